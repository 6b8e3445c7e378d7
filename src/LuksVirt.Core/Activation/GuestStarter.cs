using LuksVirt.Libvirt;

namespace LuksVirt.Core.Activation;

/// <summary>Starts a defined guest and waits, through libvirt lifecycle events, until it runs.</summary>
public sealed class GuestStarter(LibvirtConnection connection, TimeSpan timeout)
{
    /// <summary>Null when the guest runs; otherwise libvirt's (QEMU's) reason.</summary>
    public async Task<string?> StartAsync(LibvirtDomain domain, CancellationToken cancellationToken)
    {
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
