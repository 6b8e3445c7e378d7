using System.CommandLine;
using LuksVirt.Core.Devices;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Runs;
using LuksVirt.Core.Unlock;
using LuksVirt.Libc;
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
        var command = new Command("watch", "the service: unlock whenever a USB key stick is plugged in (kernel uevents, no udev needed)");
        command.Options.Add(filter);
        command.Options.Add(lockOnRemoval);
        command.Options.Add(lockTimeout);
        command.Options.Add(depth);
        command.Options.Add(vms);
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
            };

            using var stopping = StopSignals.Listen(cancellationToken);
            return await new WatchService(options, log).RunAsync(stopping.Token).ConfigureAwait(false);
        });
        return command;
    }
}
