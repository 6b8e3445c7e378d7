using System.CommandLine;
using LuksVirt.Core.Devices;
using LuksVirt.Core.KeySources.KeyDirectory;
using LuksVirt.Core.KeySources.Passphrase;
using LuksVirt.Core.KeySources.Quorum;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Runs;
using LuksVirt.Core.Unlock;
using LuksVirt.Interop.Libc;
using LuksVirt.Service;

namespace LuksVirt.Cli;

/// <summary><c>luksvirt watch</c>: the service. Waits for key sticks and unlocks with them, one
/// run at a time; optionally locks the host again when the stick is pulled.</summary>
internal static class WatchCommand
{
    public static Command Create(GlobalOptions global)
    {
        var filter = new Option<string[]>("--device-filter")
        {
            Description = "also watch disks whose kernel name matches (repeatable; * and ? wildcards, e.g. sdc, 'sd?', 'loop*'; \"loop\" = every loop device)",
            AllowMultipleArgumentsPerToken = false,
        };
        var lockOnRemoval = new Option<bool>("--lock-on-removal") { Description = "lock the host when the stick that unlocked it is pulled out" };
        var lockTimeout = new Option<int>("--lock-timeout")
        {
            Description = "with --lock-on-removal: seconds to wait for an ACPI shutdown before destroying a guest",
            DefaultValueFactory = _ => 120,
        };
        var depth = UsbCommand.KeysDepthOption();
        var vms = new Option<string[]>("--vm") { Description = "only this guest (repeatable)", AllowMultipleArgumentsPerToken = false };
        var metricsFile = new Option<string?>("--metrics-file")
        {
            Description = "keep Prometheus metrics (as status --prometheus prints them) in this file for node_exporter's textfile collector, e.g. /var/lib/prometheus/node-exporter/luksvirt.prom",
        };
        var metricsInterval = new Option<int>("--metrics-interval")
        {
            Description = "with --metrics-file: seconds between rewrites besides the one after each run",
            DefaultValueFactory = _ => 60,
        };
        var quorumWindow = new Option<string>("--quorum-window")
        {
            Description = "how long a quorum share presented on a stick waits in locked memory for the other holders' shares: minutes, or with a unit (90s, 15m, 1h)",
            DefaultValueFactory = _ => "15m",
        };
        var tangRetry = new Option<int>("--tang-retry")
        {
            Description = "minutes after start-up during which Tang bindings that give no key (network or server not up yet) are tried again, with growing pauses up to a minute; 0: try once",
            DefaultValueFactory = _ => 15,
        };
        var keys = new Option<string?>("--keys")
        {
            Description = $"also unlock with key files (holders' shares too) dropped into this directory, e.g. {KeyDirectorySource.DefaultDirectory}; it must exist, root's alone (install -d -m 0700 DIR)",
        };
        var askPassword = new Option<bool>("--ask-password")
        {
            Description = $"when guests stay off after start-up (no stick, no Tang), ask for a passphrase through systemd's password agents ({PasswordAgentKeySource.SystemDirectory}; answer with systemd-tty-ask-password-agent --query); withdrawn once they run",
        };
        var command = new Command("watch", "the service: unlock whenever a USB key stick is plugged in (kernel uevents, no udev needed), and by the Tang bindings at start-up");
        command.Options.Add(filter);
        command.Options.Add(lockOnRemoval);
        command.Options.Add(lockTimeout);
        command.Options.Add(depth);
        command.Options.Add(vms);
        command.Options.Add(metricsFile);
        command.Options.Add(metricsInterval);
        command.Options.Add(quorumWindow);
        command.Options.Add(tangRetry);
        command.Options.Add(askPassword);
        command.Options.Add(keys);
        command.SetAction(async (parse, cancellationToken) =>
        {
            ProcessHardening.DisableDumping();
            using var log = new ActivityLog(parse.GetValue(global.Log), Console.Error);
            if (!CommandLog.Accept(log))
            {
                return ExitCodes.Usage;
            }

            using var lostLines = CommandLog.ReportLostLinesAtEnd(log);

            var patterns = parse.GetValue(filter) ?? [];
            var problems = patterns.Select(DeviceFilter.Explain).OfType<string>()
                .Append(UsbCommand.CheckKeysDepth(parse.GetValue(depth)))
                .Append(parse.GetValue(lockTimeout) < 0 ? "--lock-timeout must be 0 or more seconds" : null)
                .Append(parse.GetValue(metricsInterval) < 1 ? "--metrics-interval must be 1 or more seconds" : null)
                .Append(MetricsFileProblem(parse.GetValue(metricsFile)))
                .Append(Duration.TryParse(parse.GetValue(quorumWindow), out _) ? null : "--quorum-window must be a positive duration: minutes, or a number with s, m or h (90s, 15m, 1h)")
                .Append(parse.GetValue(tangRetry) < 0 ? "--tang-retry must be 0 or more minutes" : null)
                .Append(parse.GetValue(keys) is { } keyDirectory && KeyDirectorySource.Problem(keyDirectory) is { } problem ? $"--keys: {problem}" : null)
                .OfType<string>().ToList();
            if (problems.Count > 0)
            {
                problems.ForEach(log.Error);
                return ExitCodes.Usage;
            }

            var options = new WatchOptions
            {
                Unlock = new UnlockOptions
                {
                    ConnectUri = parse.GetValue(global.Connect)!,
                    ConfigPath = parse.GetValue(global.Config),
                    VmNames = parse.GetValue(vms) ?? [],
                    StatePath = parse.GetValue(global.State)!,
                },
                Filter = new DeviceFilter(patterns),
                KeysDepth = parse.GetValue(depth),
                LockOnRemoval = parse.GetValue(lockOnRemoval),
                LockShutdownTimeout = TimeSpan.FromSeconds(parse.GetValue(lockTimeout)),
                MetricsFile = parse.GetValue(metricsFile) is { } file ? Path.GetFullPath(file) : null,
                MetricsInterval = TimeSpan.FromSeconds(parse.GetValue(metricsInterval)),
                QuorumWindow = Duration.TryParse(parse.GetValue(quorumWindow), out var window) ? window : QuorumShareWindow.DefaultLength,
                NetworkRetryFor = TimeSpan.FromMinutes(parse.GetValue(tangRetry)),
                AskPassword = parse.GetValue(askPassword),
                KeyDirectory = parse.GetValue(keys) is { } directory ? Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)) : null,
            };

            using var stopping = StopSignals.Listen(cancellationToken);
            using var service = new WatchService(options, log);
            return await service.RunAsync(stopping.Token).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The metrics file's directory must exist (node_exporter's textfile directory is
    /// made by its package); found at start, not a minute later in the log.</summary>
    private static string? MetricsFileProblem(string? path)
    {
        if (path is null)
        {
            return null;
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        return Directory.Exists(directory) ? null
            : $"--metrics-file {EchoText.OfPath(path)}: the directory {EchoText.OfPath(directory ?? "/")} does not exist (Debian's prometheus-node-exporter makes /var/lib/prometheus/node-exporter)";
    }
}
