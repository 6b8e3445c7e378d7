using System.Globalization;
using LuksVirt.Core.Bench;
using LuksVirt.Interop.Cryptsetup;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary>The human form of a <see cref="BenchReport"/>: one table per measurement, then the
/// recommendations. Every text that came from outside (tool messages, paths) is escaped.</summary>
internal static class BenchReportView
{
    public static void Write(IAnsiConsole console, BenchReport report)
    {
        var host = report.Host;
        console.MarkupLine(Invariant($"[bold]Host[/]: {Markup.Escape(host.CpuModel ?? "unknown CPU")}, {host.LogicalCpus} logical CPUs, AES instructions: {(host.AesInstructions ? "[green]yes[/]" : "[yellow]no[/]")}, {Markup.Escape(host.CryptsetupLibrary)}"));
        console.WriteLine();

        if (report.Native is { } native)
        {
            WriteNative(console, native);
        }

        if (report.DmCrypt is { } kernel)
        {
            WriteKernel(console, kernel);
        }

        WritePbkdf(console, report.Pbkdf);
        WriteRecommendations(console, report.Recommendations);
    }

    private static void WriteNative(IAnsiConsole console, NativeBenchResult native)
    {
        console.MarkupLine(Invariant($"[bold]native[/]: QEMU's LUKS driver through qemu-io, {native.PassMiB} MiB per pass in {native.RequestMiB} MiB requests, start-up subtracted"));
        if (native.Error is not null)
        {
            console.MarkupLine($"[red]{Markup.Escape(native.Error)}[/]");
            console.WriteLine();
            return;
        }

        var table = new Table().AddColumns("Cipher", "Bits", "Write MB/s", "Read MB/s", "Write/raw", "Read/raw");
        table.Columns[0].NoWrap();
        foreach (var column in table.Columns.Skip(1))
        {
            column.RightAligned();
        }

        table.AddRow("raw image", "-", Number(native.Raw?.WriteMBps), Number(native.Raw?.ReadMBps), "1.00x", "1.00x");
        foreach (var cipher in native.Ciphers)
        {
            var name = Markup.Escape(cipher.Cipher) + (cipher.CreatedWith == LuksImageCreator.QemuImg ? "*" : string.Empty);
            table.AddRow(name, Number(cipher.KeyBits), Number(cipher.WriteMBps), Number(cipher.ReadMBps), Ratio(cipher.WriteRatioToRaw), Ratio(cipher.ReadRatioToRaw));
        }

        console.Write(table);
        if (native.Ciphers.Any(c => c.CreatedWith == LuksImageCreator.QemuImg))
        {
            console.MarkupLine("* image formatted by qemu-img: libcryptsetup needs the kernel crypto API for this cipher.");
        }

        foreach (var cipher in native.Ciphers.Where(c => c.Error is not null))
        {
            console.MarkupLine($"[yellow]{Markup.Escape(cipher.Cipher)} {cipher.KeyBits}-bit: {Markup.Escape(cipher.Error!)}[/]");
        }

        console.WriteLine();
    }

    private static void WriteKernel(IAnsiConsole console, KernelBenchResult kernel)
    {
        console.MarkupLine("[bold]dmcrypt[/]: kernel ciphers through libcryptsetup's benchmark (memory only)");
        if (kernel.Message is not null)
        {
            console.MarkupLine($"[yellow]{Markup.Escape(kernel.Message)}[/]");
        }

        if (kernel.Ciphers.Count > 0)
        {
            var table = new Table().AddColumns("Cipher", "Bits", "Encrypt MB/s", "Decrypt MB/s", "Note");
            table.Columns[0].NoWrap();
            foreach (var cipher in kernel.Ciphers)
            {
                table.AddRow(Markup.Escape(cipher.Cipher), Number(cipher.KeyBits), Number(cipher.EncryptMBps), Number(cipher.DecryptMBps), Markup.Escape(cipher.Error ?? string.Empty));
            }

            console.Write(table);
        }

        console.WriteLine();
    }

    private static void WritePbkdf(IAnsiConsole console, IReadOnlyList<PbkdfResult> pbkdf)
    {
        var table = new Table().AddColumns("Key derivation", "Cost reached in 1 s", "Memory", "Threads", "Used by");
        foreach (var result in pbkdf)
        {
            var cost = result.Error is not null
                ? $"[red]{Markup.Escape(result.Error)}[/]"
                : result.MemoryKiB is null ? Invariant($"{result.Iterations:N0} iterations") : Invariant($"time cost {result.Iterations}");
            var memory = result.MemoryKiB is { } kib ? Invariant($"{kib / 1024} MiB") : "";
            var threads = result.Parallelism?.ToString(CultureInfo.InvariantCulture) ?? "";
            var usedBy = result.MemoryKiB is null ? "LUKS1 and LUKS2: both backends" : "LUKS2 only: dmcrypt backend";
            table.AddRow(Markup.Escape(result.Name) + Invariant($" ({result.VolumeKeyBits}-bit key)"), cost, memory, threads, usedBy);
        }

        console.Write(table);
        var minimal = PbkdfSettings.MinimalPbkdf2.Iterations ?? 0;
        if (PbkdfBench.Pbkdf2Milliseconds(pbkdf, minimal) is { } milliseconds)
        {
            console.MarkupLine(Invariant($"A key LuksVirt generates uses PBKDF2 with {minimal} iterations: about {milliseconds:0.##} ms per unlock attempt here."));
        }

        console.WriteLine();
    }

    private static void WriteRecommendations(IAnsiConsole console, IReadOnlyList<Recommendation> recommendations)
    {
        foreach (var recommendation in recommendations)
        {
            var cipher = recommendation.Cipher is null
                ? "[yellow]none measured[/]"
                : $"[green]{Markup.Escape(recommendation.Cipher)} with a {recommendation.KeyBits}-bit key[/]";
            console.MarkupLine(Invariant($"[bold]Recommendation for {Markup.Escape(recommendation.Backend)}[/]: {cipher}"));
            console.MarkupLine($"  why: {Markup.Escape(recommendation.Reason)}");
            console.MarkupLine($"  I/O cost: {Markup.Escape(recommendation.IoCost)}");
        }
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Number(double? value) => value is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "-";

    private static string Ratio(double? value) => value is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) + "x" : "-";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
