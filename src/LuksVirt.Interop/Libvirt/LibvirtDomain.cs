namespace LuksVirt.Libvirt;

/// <summary>A libvirt domain (<c>virDomainPtr</c>); keeps its connection alive.</summary>
public sealed class LibvirtDomain : IDisposable
{
    public string Name => throw new NotImplementedException();
    public Guid Uuid => throw new NotImplementedException();
    public DomainState State => throw new NotImplementedException();
    public bool IsActive => throw new NotImplementedException();
    public bool IsPersistent => throw new NotImplementedException();

    public bool Autostart
    {
        get => throw new NotImplementedException();
        set => throw new NotImplementedException();
    }

    /// <summary>virDomainGetXMLDesc; <paramref name="inactive"/> gives the persistent definition.</summary>
    public string GetXml(bool inactive = false) => throw new NotImplementedException();

    /// <summary>virDomainCreate: starts a defined domain. QEMU's error text is in the exception.</summary>
    public void Start() => throw new NotImplementedException();

    /// <summary>virDomainShutdown: asks the guest (ACPI) to power off; returns at once.</summary>
    public void Shutdown() => throw new NotImplementedException();

    /// <summary>virDomainDestroy: pulls the plug.</summary>
    public void Destroy() => throw new NotImplementedException();

    /// <summary>virDomainUndefineFlags (also removes NVRAM and managed save where present).</summary>
    public void Undefine() => throw new NotImplementedException();

    public void Dispose() => throw new NotImplementedException();
}
