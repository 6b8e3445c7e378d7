namespace LuksVirt.Interop.Libvirt;

/// <summary>virDomainState.</summary>
public enum DomainState
{
    NoState = 0,
    Running = 1,
    Blocked = 2,
    Paused = 3,
    ShuttingDown = 4,
    Shutoff = 5,
    Crashed = 6,
    PMSuspended = 7,
}

/// <summary>virDomainEventType.</summary>
public enum DomainLifecycleEventKind
{
    Defined = 0,
    Undefined = 1,
    Started = 2,
    Suspended = 3,
    Resumed = 4,
    Stopped = 5,
    Shutdown = 6,
    PMSuspended = 7,
    Crashed = 8,
}

/// <summary>virSecretUsageType.</summary>
public enum SecretUsageType
{
    None = 0,
    Volume = 1,
    Ceph = 2,
    Iscsi = 3,
    Tls = 4,
    Vtpm = 5,
}

public readonly record struct DomainLifecycleEvent(string DomainName, Guid DomainUuid, DomainLifecycleEventKind Kind, int Detail)
{
    /// <summary>The state the domain is in after this event, as libvirt's drivers set it before
    /// they emit the event; null for events that do not change the run state (define, undefine).</summary>
    public DomainState? ResultingState => Kind switch
    {
        DomainLifecycleEventKind.Started or DomainLifecycleEventKind.Resumed => DomainState.Running,
        DomainLifecycleEventKind.Suspended => DomainState.Paused,
        DomainLifecycleEventKind.Stopped => DomainState.Shutoff,
        DomainLifecycleEventKind.Shutdown => DomainState.ShuttingDown,
        DomainLifecycleEventKind.Crashed => DomainState.Crashed,
        DomainLifecycleEventKind.PMSuspended => DomainState.PMSuspended,
        _ => null,
    };
}
