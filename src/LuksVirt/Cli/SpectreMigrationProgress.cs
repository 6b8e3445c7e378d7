using LuksVirt.Core.Migration;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary>One Spectre progress bar per phase (bytes, rate, ETA), drawn on stderr.</summary>
internal sealed class SpectreMigrationProgress(ProgressContext context) : IMigrationProgress
{
    public Action<long> BeginPhase(string description, long totalBytes)
    {
        var task = context.AddTask(Markup.Escape(description), maxValue: totalBytes);
        // ProgressTask locks internally, so workers may report at the same time.
        return bytes => task.Increment(bytes);
    }

    /// <summary>A console on stderr: stdout stays free for the report and --json.</summary>
    public static IAnsiConsole StandardErrorConsole() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    public static Progress Create(IAnsiConsole console) => console.Progress()
        .AutoClear(false)
        .HideCompleted(false)
        .Columns(
            new TaskDescriptionColumn(),
            new ProgressBarColumn(),
            new PercentageColumn(),
            new DownloadedColumn(),
            new TransferSpeedColumn(),
            new RemainingTimeColumn());
}
