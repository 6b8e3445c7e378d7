namespace LuksVirt.Interop.Libvirt;

/// <summary>A libvirt secret (<c>virSecretPtr</c>); keeps its connection alive.</summary>
public sealed class LibvirtSecret : IDisposable
{
    private readonly SafeVirSecretHandle _handle;
    private int _disposed;

    internal LibvirtSecret(SafeVirSecretHandle handle) => _handle = handle;

    public unsafe Guid Uuid
    {
        get
        {
            var buffer = stackalloc byte[Interop.Libvirt.UuidStringBufferLength];
            if (Interop.Libvirt.SecretGetUuidString(Handle, buffer) < 0)
            {
                throw LibvirtErrors.Create("virSecretGetUUIDString");
            }

            return Interop.Libvirt.ParseUuid(new ReadOnlySpan<byte>(buffer, Interop.Libvirt.UuidStringBufferLength));
        }
    }

    public SecretUsageType UsageType
    {
        get
        {
            var usageType = Interop.Libvirt.SecretGetUsageType(Handle);
            return usageType < 0 ? throw LibvirtErrors.Create("virSecretGetUsageType") : (SecretUsageType)usageType;
        }
    }

    /// <summary>What the secret is for (for a volume secret: the volume's path); null for usage 'none'.</summary>
    public string? UsageId
    {
        get
        {
            var usageId = Interop.Libvirt.SecretGetUsageId(Handle);
            if (usageId != 0)
            {
                return Interop.Libvirt.CopyBorrowedString(usageId);
            }

            // NULL is also the answer for a secret without usage; only a reported error is a failure.
            var error = LibvirtErrors.Create("virSecretGetUsageID");
            return error.Code == Interop.Libvirt.ErrorNumber.Ok ? null : throw error;
        }
    }

    public string GetXml() =>
        Interop.Libvirt.TakeOwnedString(Interop.Libvirt.SecretGetXmlDesc(Handle, flags: 0))
        ?? throw LibvirtErrors.Create("virSecretGetXMLDesc");

    /// <summary>virSecretSetValue from a span (no copy outlives the call on our side): libvirt
    /// reads the bytes in place from the pinned span.</summary>
    public unsafe void SetValue(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            throw new ArgumentException("a secret value must not be empty", nameof(value));
        }

        var handle = Handle;
        fixed (byte* pinned = value)
        {
            if (Interop.Libvirt.SecretSetValue(handle, pinned, (nuint)value.Length, flags: 0) < 0)
            {
                throw LibvirtErrors.Create("virSecretSetValue");
            }
        }
    }

    public void Undefine()
    {
        if (Interop.Libvirt.SecretUndefine(Handle) < 0)
        {
            throw LibvirtErrors.Create("virSecretUndefine");
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _handle.Dispose();
        }
    }

    private SafeVirSecretHandle Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return _handle;
        }
    }
}
