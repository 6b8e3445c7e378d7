using LuksVirt.Core.Devices;
using LuksVirt.Core.Unlock;

namespace LuksVirt.Service;

/// <summary>Everything <c>luksvirt watch</c> was told on its command line.</summary>
internal sealed record WatchOptions
{
    /// <summary>What each unlock does: connection, config, guests in scope, state file.</summary>
    public required UnlockOptions Unlock { get; init; }

    public required DeviceFilter Filter { get; init; }

    /// <summary>Directory levels below a stick's root searched for key files.</summary>
    public required int KeysDepth { get; init; }

    /// <summary>Lock the host when the stick that unlocked it is pulled out.</summary>
    public bool LockOnRemoval { get; init; }

    /// <summary>How long a lock waits for an ACPI shutdown before destroying a guest.</summary>
    public TimeSpan LockShutdownTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>A file for node_exporter's textfile collector kept up to date; null: none.</summary>
    public string? MetricsFile { get; init; }

    /// <summary>How long quorum shares presented so far wait for the rest of the quorum.</summary>
    public TimeSpan QuorumWindow { get; init; } = LuksVirt.Core.KeySources.Quorum.QuorumShareWindow.DefaultLength;

    /// <summary>How long after start-up Tang bindings that give no key are tried again.</summary>
    public TimeSpan NetworkRetryFor { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>The first pause before Tang bindings are tried again; it doubles each time.</summary>
    public TimeSpan NetworkRetryFirst { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest pause between two tries of the Tang bindings.</summary>
    public TimeSpan NetworkRetryLongest { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long one request to one Tang server may take.</summary>
    public TimeSpan TangTimeout { get; init; } = LuksVirt.Core.KeySources.Tang.TangKeySource.DefaultTimeout;

    /// <summary>A key directory watched for key files dropped into it; null: none.</summary>
    public string? KeyDirectory { get; init; }

    /// <summary>When guests stay off after start-up, ask for a passphrase through systemd's
    /// password agents.</summary>
    public bool AskPassword { get; init; }

    /// <summary>How often, while the passphrase request stands, the service checks whether the
    /// guests were started another way.</summary>
    public TimeSpan PasswordRequestCheck { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The pause after a request's attempts are used up before it is posted again.</summary>
    public TimeSpan PasswordRequestPause { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the metrics file is rewritten besides after each run.</summary>
    public TimeSpan MetricsInterval { get; init; } = TimeSpan.FromSeconds(60);
}
