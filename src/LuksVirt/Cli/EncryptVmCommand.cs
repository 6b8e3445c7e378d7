using System.CommandLine;
using System.Globalization;
using LuksVirt.Core.Containers;
using LuksVirt.Core.Migration;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary><c>luksvirt encrypt-vm</c>: move a shut-off plaintext guest into LUKS containers.</summary>
internal static class EncryptVmCommand
{
    public static Command Create(GlobalOptions global)
    {
        var name = new Argument<string>("name") { Description = "the guest (libvirt domain); it must be shut off" };
        var backend = BackendOption.Create("who decrypts afterwards: auto (dmcrypt where the kernel has dm-crypt, else native), native (QEMU, LUKS1) or dmcrypt (LUKS2)");
        var luks1 = new Option<bool>("--luks1") { Description = "LUKS1 for dmcrypt containers (native is always LUKS1)" };
        var holders = new Option<string[]>("--holder") { Description = "a key holder: one key each, in slots 0, 1, ... of every container (repeatable); the recovery key takes the highest slot" };
        var keysOut = new Option<string>("--keys-out") { Description = "directory for the key files luks-<holder>.<slot>.key (created 0700; files 0600, never overwritten)", Required = true };
        var outputDir = new Option<string?>("--output-dir") { Description = "where the containers go (default: next to each source image; required for block-device sources)" };
        var deletePlaintext = new Option<bool>("--delete-plaintext") { Description = "delete the plaintext image files after the switch (does not erase data on SSDs or copy-on-write file systems)" };
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };

        var command = new Command("encrypt-vm", "copy every plaintext disk of a shut-off guest into a verified LUKS container and switch the guest to them");
        command.Arguments.Add(name);
        foreach (var option in new Option[] { backend, luks1, holders, keysOut, outputDir, deletePlaintext, json })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => ContainerCommandRun.RunAsync(parse.GetValue(global.Log)!, async (log, token) =>
        {
            var request = new EncryptVmRequest
            {
                Guest = parse.GetValue(name)!,
                Backend = BackendOption.Parse(parse.GetValue(backend)),
                Luks1 = parse.GetValue(luks1),
                Holders = parse.GetValue(holders) ?? [],
                KeysOut = parse.GetValue(keysOut)!,
                OutputDirectory = parse.GetValue(outputDir),
                DeletePlaintext = parse.GetValue(deletePlaintext),
                ConfigPath = parse.GetValue(global.Config),
                ConnectUri = parse.GetValue(global.Connect)!,
            };
            var console = SpectreMigrationProgress.StandardErrorConsole();
            EncryptVmReport? report = null;
            await SpectreMigrationProgress.Create(console).StartAsync(async context =>
            {
                var encryptor = new VmEncryptor(log, new SpectreMigrationProgress(context), FaultInjectionHooks.PayloadWrites());
                report = await encryptor.RunAsync(request, token).ConfigureAwait(false);
            }).ConfigureAwait(false);

            if (parse.GetValue(json))
            {
                JsonOutput.Write(report!, CliJsonContext.Default.EncryptVmReport);
            }
            else
            {
                Render(report!);
            }

            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static void Render(EncryptVmReport report)
    {
        if (report.Disks.Count == 0)
        {
            AnsiConsole.MarkupLine($"[green]{Markup.Escape(report.Guest)}: no plaintext disk left to encrypt.[/]");
        }
        else
        {
            foreach (var disk in report.Disks)
            {
                var rate = disk.PlaintextBytes / 1e6 / Math.Max(disk.Seconds, 1e-3);
                AnsiConsole.MarkupLine($"[green]{Markup.Escape(disk.TargetDev)}[/] {Markup.Escape($"{disk.Source} ({disk.SourceFormat}) -> {disk.Container}")}");
                AnsiConsole.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                    $"    {DiskSize.Describe(disk.PlaintextBytes)} in {disk.Seconds:0.0} s ({rate:0} MB/s); the domain now uses {disk.DomainDiskPath}{(disk.PlaintextDeleted ? "; plaintext deleted" : "")}")));
                AnsiConsole.MarkupLine(Markup.Escape($"    SHA-256 of the source = of the decrypted copy: {disk.Sha256}"));
            }

            foreach (var key in report.KeyFiles)
            {
                AnsiConsole.MarkupLine(Markup.Escape($"{(key.Recovery ? "recovery key" : $"key of {key.Holder}")}: slot {key.Slot} of every container, {key.Path}"));
            }
        }

        foreach (var line in report.AlreadyEncrypted)
        {
            AnsiConsole.MarkupLine($"already encrypted: {Markup.Escape(line)}");
        }

        foreach (var warning in report.Warnings)
        {
            AnsiConsole.MarkupLine($"[yellow]warning:[/] {Markup.Escape(warning)}");
        }

        if (report.Disks.Count > 0)
        {
            AnsiConsole.MarkupLine("[yellow]Hand the key files to their holders and delete them from this host: a key stored next to the disk protects nothing.[/]");
        }
    }
}
