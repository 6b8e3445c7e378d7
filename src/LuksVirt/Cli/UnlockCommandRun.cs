using LuksVirt.Core.KeySources;
using LuksVirt.Core.Logging;
using LuksVirt.Core.Unlock;

namespace LuksVirt.Cli;

/// <summary>What <c>unlock</c> and <c>usb</c> do around the engine: open the log (an unsafe log
/// path refuses the command), run <see cref="UnlockEngine"/>, print its report, and turn its
/// outcome into the exit code.</summary>
internal static class UnlockCommandRun
{
    public static async Task<int> RunAsync(UnlockOptions options, string logPath, bool json, IReadOnlyList<IKeySource> sources, CancellationToken cancellationToken)
    {
        using var log = new ActivityLog(logPath, Console.Error);
        if (!CommandLog.Accept(log))
        {
            return ExitCodes.Usage;
        }

        using var lostLines = CommandLog.ReportLostLinesAtEnd(log);
        var outcome = await new UnlockEngine(options, log).RunAsync(sources, cancellationToken).ConfigureAwait(false);
        if (outcome.Report is { } report)
        {
            UnlockReportView.Write(report, json);
        }

        return ExitCodes.Of(outcome.Ending);
    }
}
