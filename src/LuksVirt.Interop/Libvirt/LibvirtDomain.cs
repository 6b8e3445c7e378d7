namespace LuksVirt.Interop.Libvirt;

/// <summary>A libvirt domain (<c>virDomainPtr</c>); keeps its connection alive.</summary>
public sealed class LibvirtDomain : IDisposable
{
    // NVRAM and checkpoint metadata exist only in the QEMU driver; drivers without them (test://)
    // reject these flags as unsupported and get the common subset instead (see Undefine).
    private const uint FullUndefineFlags =
        Interop.Libvirt.DomainUndefineManagedSave
        | Interop.Libvirt.DomainUndefineSnapshotsMetadata
        | Interop.Libvirt.DomainUndefineCheckpointsMetadata
        | Interop.Libvirt.DomainUndefineNvram;

    private const uint CommonUndefineFlags =
        Interop.Libvirt.DomainUndefineManagedSave
        | Interop.Libvirt.DomainUndefineSnapshotsMetadata;

    private readonly SafeVirDomainHandle _handle;
    private int _disposed;

    internal LibvirtDomain(SafeVirDomainHandle handle) => _handle = handle;

    /// <summary>The name libvirt cached in the domain object (no round trip to the daemon).</summary>
    public string Name => Interop.Libvirt.CopyBorrowedString(Interop.Libvirt.DomainGetName(Handle))
        ?? throw LibvirtErrors.Create("virDomainGetName");

    public unsafe Guid Uuid
    {
        get
        {
            var buffer = stackalloc byte[Interop.Libvirt.UuidStringBufferLength];
            if (Interop.Libvirt.DomainGetUuidString(Handle, buffer) < 0)
            {
                throw LibvirtErrors.Create("virDomainGetUUIDString");
            }

            return Interop.Libvirt.ParseUuid(new ReadOnlySpan<byte>(buffer, Interop.Libvirt.UuidStringBufferLength));
        }
    }

    public DomainState State => Interop.Libvirt.DomainGetState(Handle, out var state, out _, flags: 0) < 0
        ? throw LibvirtErrors.Create("virDomainGetState")
        : (DomainState)state;

    public bool IsActive => Interop.Libvirt.DomainIsActive(Handle) switch
    {
        < 0 => throw LibvirtErrors.Create("virDomainIsActive"),
        0 => false,
        _ => true,
    };

    public bool IsPersistent => Interop.Libvirt.DomainIsPersistent(Handle) switch
    {
        < 0 => throw LibvirtErrors.Create("virDomainIsPersistent"),
        0 => false,
        _ => true,
    };

    public bool Autostart
    {
        get => Interop.Libvirt.DomainGetAutostart(Handle, out var autostart) < 0
            ? throw LibvirtErrors.Create("virDomainGetAutostart")
            : autostart != 0;
        set
        {
            if (Interop.Libvirt.DomainSetAutostart(Handle, value ? 1 : 0) < 0)
            {
                throw LibvirtErrors.Create("virDomainSetAutostart");
            }
        }
    }

    /// <summary>virDomainGetXMLDesc; <paramref name="inactive"/> gives the persistent definition.</summary>
    public string GetXml(bool inactive = false) =>
        Interop.Libvirt.TakeOwnedString(Interop.Libvirt.DomainGetXmlDesc(Handle, inactive ? Interop.Libvirt.DomainXmlInactive : 0))
        ?? throw LibvirtErrors.Create("virDomainGetXMLDesc");

    /// <summary>virDomainCreate: starts a defined domain. QEMU's error text is in the exception.</summary>
    public void Start()
    {
        if (Interop.Libvirt.DomainCreate(Handle) < 0)
        {
            throw LibvirtErrors.Create("virDomainCreate");
        }
    }

    /// <summary>virDomainShutdown: asks the guest (ACPI) to power off; returns at once.</summary>
    public void Shutdown()
    {
        if (Interop.Libvirt.DomainShutdown(Handle) < 0)
        {
            throw LibvirtErrors.Create("virDomainShutdown");
        }
    }

    /// <summary>virDomainDestroy: pulls the plug.</summary>
    public void Destroy()
    {
        if (Interop.Libvirt.DomainDestroy(Handle) < 0)
        {
            throw LibvirtErrors.Create("virDomainDestroy");
        }
    }

    /// <summary>virDomainUndefineFlags (also removes NVRAM and managed save where present).</summary>
    public void Undefine()
    {
        var handle = Handle;
        if (Interop.Libvirt.DomainUndefineFlags(handle, FullUndefineFlags) >= 0)
        {
            return;
        }

        var error = LibvirtErrors.Create("virDomainUndefineFlags");
        if (error.Code != Interop.Libvirt.ErrorNumber.InvalidArgument)
        {
            throw error;
        }

        // The driver does not know NVRAM or checkpoints, so it has none to remove.
        if (Interop.Libvirt.DomainUndefineFlags(handle, CommonUndefineFlags) < 0)
        {
            throw LibvirtErrors.Create("virDomainUndefineFlags");
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _handle.Dispose();
        }
    }

    private SafeVirDomainHandle Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return _handle;
        }
    }
}
