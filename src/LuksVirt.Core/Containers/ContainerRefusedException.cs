namespace LuksVirt.Core.Containers;

/// <summary>
/// A request refused before anything was changed (existing file, data on a device, key file
/// clash, unknown domain...). The message names the problem and the fix; exit code 2.
/// </summary>
public sealed class ContainerRefusedException : Exception
{
    public ContainerRefusedException(string message) : base(message)
    {
    }

    public ContainerRefusedException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
