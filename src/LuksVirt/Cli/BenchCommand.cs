using System.CommandLine;
using System.Runtime.InteropServices;
using LuksVirt.Core.Bench;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary><c>luksvirt bench [--backend native|dmcrypt] [--json] [--size MiB]</c>: the fastest
/// cipher per backend on this host, with the measurements behind it.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var backend = new Option<string?>("--backend")
        {
            Description = "measure only this backend (default: both)",
        };
        backend.AcceptOnlyFromAmong(CipherRecommendation.Native, CipherRecommendation.DmCrypt);

        var json = new Option<bool>("--json") { Description = "print the report as JSON" };

        var size = new Option<int>("--size")
        {
            Description = "MiB written and read per pass and cipher (native backend)",
            HelpName = "MiB",
            DefaultValueFactory = _ => QemuLuksThroughput.DefaultPassMiB,
        };

        var command = new Command("bench", "Measure cipher and key-derivation speed per backend and recommend the fastest cipher.")
        {
            backend,
            json,
            size,
        };
        command.SetAction((parseResult, cancellationToken) => RunAsync(
            parseResult.GetValue(backend), parseResult.GetValue(json), parseResult.GetValue(size), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string? backend, bool json, int sizeMiB, CancellationToken cancellationToken)
    {
        if (sizeMiB <= 0)
        {
            await Console.Error.WriteLineAsync("luksvirt bench: --size must be a positive number of MiB").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var options = new BenchOptions(
            Native: backend is null or CipherRecommendation.Native,
            DmCrypt: backend is null or CipherRecommendation.DmCrypt,
            PassMiB: sizeMiB);

        // Ctrl+C or SIGTERM: stop the running qemu-io and remove the benchmark images.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel(stop));
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel(stop));

        BenchReport report;
        try
        {
            report = json || !AnsiConsole.Profile.Capabilities.Interactive
                ? await HostCipherBench.RunAsync(options, null, stop.Token).ConfigureAwait(false)
                : await AnsiConsole.Status().StartAsync("measuring", context =>
                    HostCipherBench.RunAsync(options, new StatusProgress(context), stop.Token)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("luksvirt bench: interrupted").ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        if (json)
        {
            JsonOutput.Write(report, CliJsonContext.Default.BenchReport);
        }
        else
        {
            BenchReportView.Write(AnsiConsole.Console, report);
        }

        return report.HasFailures ? ExitCodes.Failure : ExitCodes.Success;
    }

    private static Action<PosixSignalContext> Cancel(CancellationTokenSource source) => context =>
    {
        context.Cancel = true;
        source.Cancel();
    };

    /// <summary>Shows the step in progress on the spinner line (synchronously: the status
    /// context is not meant to be updated from a captured synchronization context).</summary>
    private sealed class StatusProgress(StatusContext context) : IProgress<string>
    {
        public void Report(string value) => context.Status(Markup.Escape(value));
    }
}
