namespace LuksVirt.Libvirt;

/// <summary>A libvirt secret (<c>virSecretPtr</c>); keeps its connection alive.</summary>
public sealed class LibvirtSecret : IDisposable
{
    public Guid Uuid => throw new NotImplementedException();
    public SecretUsageType UsageType => throw new NotImplementedException();
    public string? UsageId => throw new NotImplementedException();

    public string GetXml() => throw new NotImplementedException();

    /// <summary>virSecretSetValue from a span (no copy outlives the call on our side).</summary>
    public void SetValue(ReadOnlySpan<byte> value) => throw new NotImplementedException();

    public void Undefine() => throw new NotImplementedException();

    public void Dispose() => throw new NotImplementedException();
}
