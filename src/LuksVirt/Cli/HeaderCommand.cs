using System.CommandLine;
using System.Globalization;
using LuksVirt.Core.Headers;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary>
/// <c>luksvirt header backup|restore --container PATH --file FILE</c>. The work is done by
/// <see cref="HeaderBackups"/>; this file only reads options, asks for confirmation and prints.
/// </summary>
internal static class HeaderCommand
{
    public static Command Create()
    {
        var header = new Command("header", "Back up and restore the LUKS header of a container (each verified).");
        header.Subcommands.Add(CreateBackup());
        header.Subcommands.Add(CreateRestore());
        return header;
    }

    private static Command CreateBackup()
    {
        var options = new CommonOptions();
        var command = new Command("backup",
            "Write the container's header to a new file (0400, never overwritten) and verify it. Keep it offline: with any key valid today it opens the container, even after that key is removed.");
        options.AddTo(command, "a key that opens the container, to verify the backup with a test open (without it only the UUID is checked)");
        command.SetAction(parse =>
        {
            var json = parse.GetValue(options.Json);
            return ContainerCommandRunner.Run(json, () =>
            {
                if (options.Missing(parse) is { } refusal)
                {
                    return ContainerCommandRunner.Refuse(json, refusal);
                }

                using var key = options.ReadOptionalKey(parse);
                var result = HeaderBackups.Backup(parse.GetValue(options.Container)!, parse.GetValue(options.File)!, key, FaultInjectionHooks.HeaderSteps());
                if (json)
                {
                    JsonOutput.Write(
                        new HeaderBackupReport(result.Container, result.BackupFile, result.Uuid, VersionName(result.Version), result.Bytes, result.KeyCheckedSlot is not null, result.KeyCheckedSlot),
                        CliJsonContext.Default.HeaderBackupReport);
                }
                else
                {
                    AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                        $"[green]Header backup written[/]: {Markup.Escape(result.BackupFile)} ({result.Bytes} bytes, {VersionName(result.Version)}, UUID {Markup.Escape(result.Uuid)})."));
                    AnsiConsole.MarkupLine(result.KeyCheckedSlot is { } slot
                        ? string.Create(CultureInfo.InvariantCulture, $"Verified: the key opens key slot {slot} of the backup.")
                        : "[yellow]Key check skipped[/] (no --key-file): the backup loads as LUKS with the container's UUID.");
                    AnsiConsole.MarkupLine("Keep it offline: with any key valid today it opens this container, even after that key is removed.");
                }

                return ExitCodes.Success;
            });
        });
        return command;
    }

    private static Command CreateRestore()
    {
        var options = new CommonOptions();
        var force = new Option<bool>("--force") { Description = "restore onto a container whose UUID cannot be read to compare with the backup's: no LUKS header at all (wiped), or a damaged one that lost its UUID too" };
        var yes = new Option<bool>("--yes") { Description = "do not ask for confirmation (required when standard input is not a terminal)" };
        var command = new Command("restore",
            "Overwrite the container's header with a backup of the same container (same UUID). Keys removed since the backup come back; keys added since are lost.");
        options.AddTo(command, "a key to check first against the backup, and against the container after the restore");
        command.Options.Add(force);
        command.Options.Add(yes);
        command.SetAction(parse =>
        {
            var json = parse.GetValue(options.Json);
            return ContainerCommandRunner.Run(json, () =>
            {
                if (options.Missing(parse) is { } refusal)
                {
                    return ContainerCommandRunner.Refuse(json, refusal);
                }

                var plan = HeaderBackups.PlanRestore(parse.GetValue(options.Container)!, parse.GetValue(options.File)!, parse.GetValue(force));
                var warning = $"Restoring {plan.BackupFile} over the header of {plan.Container} brings back every key that was valid when the backup was taken and removes every key added since.";
                if (!parse.GetValue(yes))
                {
                    if (!TerminalInput.IsInteractive)
                    {
                        return ContainerCommandRunner.Refuse(json, $"{warning} Standard input is not a terminal, so confirm with --yes.");
                    }

                    if (!TerminalInput.Confirm(warning))
                    {
                        return ContainerCommandRunner.Refuse(json, "not confirmed; nothing was restored");
                    }
                }

                using var key = options.ReadOptionalKey(parse);
                var result = HeaderBackups.Restore(plan, key, FaultInjectionHooks.HeaderSteps());
                if (json)
                {
                    JsonOutput.Write(
                        new HeaderRestoreReport(result.Container, result.BackupFile, result.Uuid, VersionName(result.Version), result.KeyCheckedSlot is not null, result.KeyCheckedSlot),
                        CliJsonContext.Default.HeaderRestoreReport);
                }
                else
                {
                    AnsiConsole.MarkupLine($"[green]Header restored[/] on {Markup.Escape(result.Container)} from {Markup.Escape(result.BackupFile)} (UUID {Markup.Escape(result.Uuid)}).");
                    AnsiConsole.MarkupLine(result.KeyCheckedSlot is { } slot
                        ? string.Create(CultureInfo.InvariantCulture, $"Verified: the key opens key slot {slot}.")
                        : "[yellow]Key check skipped[/] (no --key-file): the container loads with the backup's UUID.");
                }

                return ExitCodes.Success;
            });
        });
        return command;
    }

    private static string VersionName(LuksVersion version) => version == LuksVersion.Luks1 ? "LUKS1" : "LUKS2";

    private sealed class CommonOptions
    {
        public Option<string?> Container { get; } = new("--container") { Description = "the LUKS container: image file or block device (required)" };

        public Option<string?> File { get; } = new("--file") { Description = "the header backup file (required)" };

        public Option<string?> KeyFile { get; } = new("--key-file");

        public Option<bool> Json { get; } = new("--json") { Description = "print a JSON report" };

        public void AddTo(Command command, string keyFileDescription)
        {
            KeyFile.Description = keyFileDescription + "; a regular file (links are not followed), or - for standard input";
            command.Options.Add(Container);
            command.Options.Add(File);
            command.Options.Add(KeyFile);
            command.Options.Add(Json);
        }

        public string? Missing(ParseResult parse) =>
            string.IsNullOrEmpty(parse.GetValue(Container)) ? "give the container with --container PATH (image file or block device)"
            : string.IsNullOrEmpty(parse.GetValue(File)) ? "give the header backup file with --file FILE"
            : null;

        public SecretBuffer? ReadOptionalKey(ParseResult parse) =>
            parse.GetValue(KeyFile) is { Length: > 0 } keyFile ? ContainerCommandRunner.ReadKey(keyFile) : null;
    }
}
