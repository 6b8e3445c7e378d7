using LuksVirt.Core.Unlock;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary>The unlock report as a table (humans) or JSON (<c>--json</c>).</summary>
internal static class UnlockReportView
{
    public static void Write(UnlockReport report, bool json)
    {
        if (json)
        {
            JsonOutput.Write(report, CliJsonContext.Default.UnlockReport);
            return;
        }

        var table = new Table().AddColumns("guest", "state", "outcome", "disk", "backend", "disk outcome", "opened by", "trials", "detail");
        foreach (var guest in report.Guests)
        {
            var first = true;
            foreach (var disk in guest.Disks)
            {
                table.AddRow(
                    first ? Markup.Escape(guest.Name) : "",
                    first ? Markup.Escape(guest.StateBefore == guest.StateAfter ? guest.StateAfter : $"{guest.StateBefore} -> {guest.StateAfter}") : "",
                    first ? Outcome(guest.Outcome) : "",
                    Markup.Escape(Path.GetFileName(disk.Container)),
                    disk.Backend.ToString().ToLowerInvariant(),
                    disk.Outcome.ToString(),
                    disk.Holder is null ? "" : Markup.Escape($"{disk.Holder}, slot {disk.Slot}"),
                    disk.Derivations.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Markup.Escape(disk.Message ?? (first ? guest.Message ?? "" : "")));
                first = false;
            }
        }

        AnsiConsole.Write(table);
        foreach (var rejected in report.Keys.Rejected)
        {
            AnsiConsole.MarkupLine($"[yellow]key file rejected:[/] {Markup.Escape(rejected.Name)}: {Markup.Escape(rejected.Reason)}");
        }

        foreach (var waiting in report.Keys.Waiting)
        {
            AnsiConsole.MarkupLine($"[yellow]quorum not met:[/] {Markup.Escape(waiting)}");
        }

        foreach (var skipped in report.Keys.Skipped)
        {
            AnsiConsole.MarkupLine($"[yellow]skipped on the stick:[/] {Markup.Escape(skipped.Where)}: {Markup.Escape(skipped.Reason)}");
        }

        foreach (var problem in report.Problems)
        {
            AnsiConsole.MarkupLine($"[red]problem:[/] {Markup.Escape(problem)}");
        }

        if (report.Interrupted)
        {
            AnsiConsole.MarkupLine("[yellow]interrupted:[/] the run stopped early; each guest's outcome above says what happened to it");
        }

        var totals = report.Totals;
        AnsiConsole.MarkupLine(
            $"{totals.GuestsRunning}/{totals.GuestsInScope} guest(s) running; {report.Keys.Presented} key(s) presented" +
            $"{(report.Keys.Deleted ? ", key files deleted" : "")}; {totals.KeyDerivations} key derivation(s); {totals.WallMilliseconds} ms" +
            (report.DryRun ? " [yellow](dry run: nothing activated or started)[/]" : ""));
    }

    private static string Outcome(GuestOutcome outcome) => outcome switch
    {
        GuestOutcome.Started => "[green]started[/]",
        GuestOutcome.AlreadyRunning => "[green]already running[/]",
        GuestOutcome.WouldStart => "[blue]would start[/]",
        GuestOutcome.NotStarted => "[yellow]not started[/]",
        _ => "[red]failed[/]",
    };
}
