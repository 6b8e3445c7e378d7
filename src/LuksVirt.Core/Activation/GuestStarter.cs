using LuksVirt.Interop.Libvirt;

namespace LuksVirt.Core.Activation;

/// <summary>Starts a guest (<see cref="GuestStarter"/>); an interface only so that tests can
/// make a start fail, time out or be interrupted after the real start.</summary>
internal interface IGuestStarter
{
    /// <summary>Null when the guest runs; otherwise why not. Throws OperationCanceledException
    /// when interrupted, whether or not the start itself went through: the caller asks the
    /// domain what happened.</summary>
    Task<string?> StartAsync(LibvirtDomain domain, CancellationToken cancellationToken);
}

/// <summary>Starts a defined guest and waits, through libvirt lifecycle events, until it runs.</summary>
internal sealed class GuestStarter(LibvirtConnection connection, TimeSpan timeout) : IGuestStarter
{
    /// <summary>Null when the guest runs; otherwise libvirt's (QEMU's) reason.</summary>
    public async Task<string?> StartAsync(LibvirtDomain domain, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domain);
        try
        {
            domain.Start();
        }
        catch (LibvirtException e)
        {
            return e.Message;
        }

        try
        {
            var state = await connection.WaitForDomainStateAsync(
                domain, s => s is DomainState.Running or DomainState.Shutoff or DomainState.Crashed, timeout, cancellationToken).ConfigureAwait(false);
            return state == DomainState.Running ? null : $"the guest stopped right after starting (state {state})";
        }
        catch (TimeoutException e)
        {
            return e.Message;
        }
    }
}
