using System.CommandLine;
using LuksVirt.Core.Inventory;
using LuksVirt.Core.Lock;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Runs;
using LuksVirt.Core.State;
using LuksVirt.Interop.Libvirt;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary><c>luksvirt lock</c>: power the guests off and take every key off the host again.</summary>
internal static class LockCommand
{
    public static Command Create(GlobalOptions global)
    {
        var vms = new Option<string[]>("--vm") { Description = "only this guest (repeatable)" };
        var timeout = new Option<int>("--timeout") { Description = "seconds to wait for an ACPI shutdown before destroying the guest", DefaultValueFactory = _ => 120 };
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };
        var command = new Command("lock", "shut the guests down, close their disks, remove links and secrets");
        command.Options.Add(vms);
        command.Options.Add(timeout);
        command.Options.Add(json);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var log = new ActivityLog(parse.GetValue(global.Log), Console.Error);
            if (!CommandLog.Accept(log))
            {
                return ExitCodes.Usage;
            }

            using var lostLines = CommandLog.ReportLostLinesAtEnd(log);
            var seconds = parse.GetValue(timeout);
            if (seconds < 0)
            {
                log.Error("--timeout must be 0 or more seconds");
                return ExitCodes.Usage;
            }

            // SIGINT/SIGTERM end the waits: each guest not yet off is reported, none is destroyed
            // any more, and the report is still printed.
            using var interrupted = StopSignals.Listen(cancellationToken);

            LockReport report;
            try
            {
                using var runLock = RunLock.AcquireForCommand(log, interrupted.Token);
                var locker = new HostLocker(parse.GetValue(global.Connect)!, parse.GetValue(global.Config), parse.GetValue(vms) ?? [], TimeSpan.FromSeconds(seconds), log);
                report = await locker.RunAsync(interrupted.Token).ConfigureAwait(false);
                TellTheWatchService(parse.GetValue(global.State)!, log);
            }
            catch (OperationCanceledException)
            {
                log.Error("lock interrupted while waiting for the run lock; nothing was changed");
                return ExitCodes.Failure;
            }
            catch (Exception e) when (e is ConfigurationException or UnknownGuestException)
            {
                log.Error(e.Message);
                return ExitCodes.Usage;
            }
            catch (Exception e) when (e is TimeoutException or LibvirtException)
            {
                log.Error(e.Message);
                return ExitCodes.Failure;
            }

            if (parse.GetValue(json))
            {
                JsonOutput.Write(report, CliJsonContext.Default.LockReport);
            }
            else
            {
                Render(report);
            }

            return report.Succeeded ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }

    /// <summary>A running watch service keeps quorum shares in its own memory: the notice makes
    /// it wipe them (a lock takes every key off the host).</summary>
    private static void TellTheWatchService(string statePath, ActivityLog log)
    {
        try
        {
            LockNotice.Post(LockNotice.PathBeside(statePath), TimeProvider.System);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning($"cannot tell a running watch service to wipe the quorum shares it keeps: {e.Message}; systemctl stop luksvirt wipes them");
        }
    }

    private static void Render(LockReport report)
    {
        var table = new Table().AddColumns("guest", "before", "after", "outcome", "disk", "backend", "disk outcome", "detail");
        foreach (var guest in report.Guests)
        {
            var first = true;
            foreach (var disk in guest.Disks)
            {
                table.AddRow(
                    first ? Markup.Escape(guest.Name) : "",
                    first ? Markup.Escape(guest.StateBefore) : "",
                    first ? Markup.Escape(guest.StateAfter) : "",
                    first ? guest.Outcome.ToString() : "",
                    Markup.Escape(Path.GetFileName(disk.Container)),
                    disk.Backend.ToString().ToLowerInvariant(),
                    disk.Outcome.ToString(),
                    Markup.Escape(disk.Message ?? (first ? guest.Message ?? "" : "")));
                first = false;
            }
        }

        AnsiConsole.Write(table);
        foreach (var problem in report.Problems)
        {
            AnsiConsole.MarkupLine($"[red]problem:[/] {Markup.Escape(problem)}");
        }

        AnsiConsole.MarkupLine($"{report.Guests.Count} guest(s) locked in {report.WallMilliseconds} ms");
    }
}
