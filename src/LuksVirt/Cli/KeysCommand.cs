using System.CommandLine;
using System.Globalization;
using LuksVirt.Core.Holders;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Cryptsetup;
using LuksVirt.Interop.Secrets;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary>
/// <c>luksvirt keys list|add|remove|replace --container PATH</c>: key slots with named holders.
/// The work is done by <see cref="KeySlotEditor"/>; this file only reads options and prints.
/// </summary>
internal static partial class KeysCommand
{
    public static Command Create()
    {
        var keys = new Command("keys", "List, add, remove and replace the key slots of a LUKS container, each with a named holder; bind slots to Tang servers as clevis does.");
        keys.Subcommands.Add(CreateList());
        keys.Subcommands.Add(CreateAdd());
        keys.Subcommands.Add(CreateRemove());
        keys.Subcommands.Add(CreateReplace());
        keys.Subcommands.Add(CreateBind());
        keys.Subcommands.Add(CreateUnbind());
        keys.Subcommands.Add(CreateRebind());
        return keys;
    }

    private static Command CreateList()
    {
        var options = new CommonOptions();
        var command = new Command("list", "Show the key slots of a container and who holds each key.");
        options.AddTo(command, withKeyFile: false);
        command.SetAction(parse =>
        {
            var json = parse.GetValue(options.Json);
            return ContainerCommandRunner.Run(json, () =>
            {
                if (options.MissingContainer(parse) is { } refusal)
                {
                    return ContainerCommandRunner.Refuse(json, refusal);
                }

                using var editor = KeySlotEditor.Open(parse.GetValue(options.Container)!, options.EditorOptions(parse));
                var slots = editor.ListSlots();
                if (json)
                {
                    JsonOutput.Write(ToReport(editor, slots), CliJsonContext.Default.KeysListReport);
                }
                else
                {
                    PrintSlots(editor, slots);
                }

                return ExitCodes.Success;
            });
        });
        return command;
    }

    private static Command CreateAdd()
    {
        var options = new CommonOptions();
        var newKey = new NewKeyOptions();
        var holders = new Option<string[]>("--holder")
        {
            Description = "name of who gets the new key (A-Z a-z 0-9 _ -; required); with --quorum, once per holder of a share",
        };
        var quorum = new Option<int?>("--quorum")
        {
            Description = "split the new key among the holders: any K of them recover it (Shamir's scheme; each holder's key file is a share, useless alone; needs --keys-out)",
        };
        var slot = new Option<int?>("--slot") { Description = "key slot for the new key (default: the lowest free one)" };
        var command = new Command("add", "Enrol a new key for a named holder, or split among holders with --quorum, authorised by any key that opens the container.");
        options.AddTo(command, withKeyFile: true);
        command.Options.Add(holders);
        command.Options.Add(quorum);
        command.Options.Add(slot);
        newKey.AddTo(command);
        command.SetAction(parse => parse.GetValue(quorum) is { } threshold
            ? RunQuorumAdd(parse, options, newKey, parse.GetValue(holders) ?? [], threshold, parse.GetValue(slot))
            : RunNewKeyChange(parse, options, newKey, SingleHolder(parse.GetValue(holders)), "add", "who gets the new key",
                (editor, authorisingKey, name, key) => editor.Add(authorisingKey, name, key, parse.GetValue(slot))));
        return command;
    }

    /// <summary>The one --holder of a plain add; several without --quorum are refused as missing.</summary>
    private static Func<ParseResult, string?> SingleHolder(string[]? holders) => _ => holders is [var only] ? only : null;

    /// <summary><c>keys add --quorum K --holder a --holder b ...</c>: one slot, one share file per holder.</summary>
    private static int RunQuorumAdd(ParseResult parse, CommonOptions options, NewKeyOptions newKey, string[] holders, int threshold, int? slot)
    {
        var json = parse.GetValue(options.Json);
        return ContainerCommandRunner.Run(json, () =>
        {
            var refusal = options.MissingContainer(parse) ?? options.MissingKeyFile(parse)
                ?? (holders.Length < 2 ? "keys add --quorum K needs one --holder NAME per holder of a share, at least two" : null)
                ?? newKey.CheckQuorum(parse);
            if (refusal is not null)
            {
                return ContainerCommandRunner.Refuse(json, refusal);
            }

            using var editor = KeySlotEditor.Open(parse.GetValue(options.Container)!, options.EditorOptions(parse));
            using var authorisingKey = ContainerCommandRunner.ReadKey(parse.GetValue(options.KeyFile)!);
            return Report("add", editor.AddQuorum(authorisingKey, holders, threshold, newKey.KeysOut(parse)!, slot), json);
        });
    }

    private static Command CreateRemove()
    {
        var options = new CommonOptions();
        var holder = new Option<string?>("--holder") { Description = "remove the key slot of this holder" };
        var slot = new Option<int?>("--slot") { Description = "remove this key slot" };
        var command = new Command("remove",
            "Destroy one key slot, chosen by holder or number. Authorise with a key of another slot; the last active slot is never removed.");
        options.AddTo(command, withKeyFile: true);
        command.Options.Add(holder);
        command.Options.Add(slot);
        command.SetAction(parse =>
        {
            var json = parse.GetValue(options.Json);
            return ContainerCommandRunner.Run(json, () =>
            {
                var name = parse.GetValue(holder);
                var number = parse.GetValue(slot);
                var refusal = options.MissingContainer(parse) ?? options.MissingKeyFile(parse)
                    ?? ((name is null) == (number is null) ? "keys remove needs exactly one of --holder NAME or --slot N" : null);
                if (refusal is not null)
                {
                    return ContainerCommandRunner.Refuse(json, refusal);
                }

                using var editor = KeySlotEditor.Open(parse.GetValue(options.Container)!, options.EditorOptions(parse));
                using var authorisingKey = ContainerCommandRunner.ReadKey(parse.GetValue(options.KeyFile)!);
                var change = editor.Remove(authorisingKey, name, number);
                return Report("remove", change, json);
            });
        });
        return command;
    }

    private static Command CreateReplace()
    {
        var options = new CommonOptions();
        var newKey = new NewKeyOptions();
        var holder = new Option<string?>("--holder") { Description = "whose key to replace (required)" };
        var command = new Command("replace",
            "Give a holder a new key: enrol it in a free slot, prove it opens, then destroy the old slot. Needs a free slot.");
        options.AddTo(command, withKeyFile: true);
        command.Options.Add(holder);
        newKey.AddTo(command);
        command.SetAction(parse => RunNewKeyChange(parse, options, newKey, p => p.GetValue(holder), "replace", "whose key to replace",
            (editor, authorisingKey, name, key) => editor.Replace(authorisingKey, name, key)));
        return command;
    }

    /// <summary><c>keys add</c> and <c>keys replace</c>: the same refusals, the authorising key, the
    /// new key (generated or a typed passphrase), then <paramref name="change"/>.</summary>
    private static int RunNewKeyChange(
        ParseResult parse,
        CommonOptions options,
        NewKeyOptions newKey,
        Func<ParseResult, string?> holder,
        string action,
        string holderMeaning,
        Func<KeySlotEditor, SecretBuffer, string, NewKey, KeySlotChange> change)
    {
        var json = parse.GetValue(options.Json);
        return ContainerCommandRunner.Run(json, () =>
        {
            var name = holder(parse);
            var refusal = options.MissingContainer(parse) ?? options.MissingKeyFile(parse)
                ?? (string.IsNullOrEmpty(name) ? $"keys {action} needs one --holder NAME: {holderMeaning}" : null)
                ?? newKey.Check(parse, options);
            if (refusal is not null)
            {
                return ContainerCommandRunner.Refuse(json, refusal);
            }

            using var editor = KeySlotEditor.Open(parse.GetValue(options.Container)!, options.EditorOptions(parse));
            using var authorisingKey = ContainerCommandRunner.ReadKey(parse.GetValue(options.KeyFile)!);
            using var passphrase = newKey.ReadPassphrase(parse);
            return Report(action, change(editor, authorisingKey, name!, newKey.Describe(parse, passphrase)), json);
        });
    }

    private static int Report(string action, KeySlotChange change, bool json)
    {
        if (json)
        {
            JsonOutput.Write(
                new KeysChangeReport(action, change.Container, change.Holder, change.AddedSlot, change.RemovedSlot, change.KeyFile)
                {
                    ShareFiles = change.ShareFiles?.ToArray(),
                    Quorum = QuorumReport.From(change.Quorum),
                },
                CliJsonContext.Default.KeysChangeReport);
            return ExitCodes.Success;
        }

        var holder = Markup.Escape(change.Quorum?.Describe() ?? change.Holder ?? "(no recorded holder)");
        var container = Markup.Escape(change.Container);
        if (change.AddedSlot is { } added)
        {
            AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"[green]Added[/] key slot {added} of {container} for [bold]{holder}[/]."));
        }

        if (change.RemovedSlot is { } removed)
        {
            AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"[yellow]Removed[/] key slot {removed} of {container} ({holder})."));
        }

        if (change.KeyFile is { } keyFile)
        {
            AnsiConsole.MarkupLine($"The new key is in [bold]{Markup.Escape(keyFile)}[/] (0600): hand it to its holder and do not keep it on this host.");
        }

        foreach (var shareFile in change.ShareFiles ?? [])
        {
            AnsiConsole.MarkupLine($"A share is in [bold]{Markup.Escape(shareFile)}[/] (0600): hand it to its holder only; it is useless alone.");
        }

        return ExitCodes.Success;
    }

    private static KeysListReport ToReport(KeySlotEditor editor, IReadOnlyList<KeySlotInfo> slots) => new KeysListReport(
        editor.ContainerPath,
        editor.Uuid,
        VersionName(editor.Version),
        editor.HolderLocation,
        slots.Where(s => s.IsUsed)
            .Select(s => new KeySlotReport(s.Slot, StateName(s.State), s.Holder?.Holder, KindName(s.Holder), s.Holder?.Created, s.OtherTokens.Count == 0 ? null : [.. s.OtherTokens])
            {
                Quorum = QuorumReport.From(s.Holder?.Quorum),
            })
            .ToArray(),
        slots.Where(s => s.State == KeySlotState.Inactive).Select(s => s.Slot).ToArray())
    {
        Bindings = [.. editor.ListBindings().Select(b => new ClevisBindingReport(b.Slot, b.Location, b.Pin is null ? null : PinReport.From(b.Pin), b.Problem))],
        ClevisRoom = editor.ClevisRoomProblem,
    };

    private static void PrintSlots(KeySlotEditor editor, IReadOnlyList<KeySlotInfo> slots)
    {
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(editor.ContainerPath)}[/]: {VersionName(editor.Version)}, UUID {Markup.Escape(editor.Uuid)}; holders in {Markup.Escape(editor.HolderLocation)}");
        var table = new Table().AddColumn("Slot").AddColumn("State").AddColumn("Holder").AddColumn("Key").AddColumn("Added (UTC)");
        foreach (var slot in slots.Where(s => s.IsUsed))
        {
            table.AddRow(
                slot.Slot.ToString(CultureInfo.InvariantCulture),
                slot.State == KeySlotState.Unbound ? "[yellow]unbound[/] (opens no data)" : Markup.Escape(StateName(slot.State)),
                slot.Holder is { } record ? Markup.Escape(record.Quorum?.Describe() ?? record.Holder)
                    : slot.OtherTokens.Count > 0 ? Markup.Escape($"({string.Join(", ", slot.OtherTokens)} token)")
                    : "[grey](no holder recorded)[/]",
                Markup.Escape(KindName(slot.Holder) ?? string.Empty),
                Markup.Escape(slot.Holder?.Created?.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? string.Empty));
        }

        AnsiConsole.Write(table);
        var free = slots.Where(s => s.State == KeySlotState.Inactive).Select(s => s.Slot).ToList();
        AnsiConsole.MarkupLine(free.Count == 0 ? "[yellow]No free key slot.[/]" : $"Free key slots: {Markup.Escape(DescribeRanges(free))}");
        PrintBindings(editor);
    }

    /// <summary>crypt_keyslot_status as <c>keys list</c> names it.</summary>
    private static string StateName(KeySlotState state) => state switch
    {
        KeySlotState.Active => "active",
        KeySlotState.ActiveLast => "active-last",
        KeySlotState.Unbound => "unbound",
        KeySlotState.Inactive => "inactive",
        _ => "invalid",
    };

    private static string? KindName(HolderRecord? record) => record is null ? null : HolderKeyKinds.NameOf(record.Kind);

    private static string VersionName(LuksVersion version) => version == LuksVersion.Luks1 ? "LUKS1" : "LUKS2";

    /// <summary>"2-7, 9" for 2,3,4,5,6,7,9.</summary>
    private static string DescribeRanges(List<int> sorted)
    {
        var parts = new List<string>();
        for (var i = 0; i < sorted.Count; i++)
        {
            var start = sorted[i];
            while (i + 1 < sorted.Count && sorted[i + 1] == sorted[i] + 1)
            {
                i++;
            }

            parts.Add(start == sorted[i] ? start.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{start}-{sorted[i]}"));
        }

        return string.Join(", ", parts);
    }

    /// <summary>Options every keys subcommand takes (unbind its own optional --key-file).</summary>
    private sealed class CommonOptions
    {
        public Option<string?> Container { get; } = new("--container") { Description = "the LUKS container: image file or block device (required)" };

        public Option<string?> KeyFile { get; } = new("--key-file")
        {
            Description = "a key that opens the container, to authorise the change: a regular file (links are not followed), or - for standard input (required)",
        };

        public Option<string> Registry { get; } = new("--registry")
        {
            Description = "holder registry for LUKS1 containers (LUKS2 keeps holders in its header)",
            DefaultValueFactory = _ => KeySlotEditorOptions.DefaultRegistryPath,
        };

        public Option<bool> Json { get; } = new("--json") { Description = "print a JSON report" };

        public void AddTo(Command command, bool withKeyFile)
        {
            command.Options.Add(Container);
            if (withKeyFile)
            {
                command.Options.Add(KeyFile);
            }

            command.Options.Add(Registry);
            command.Options.Add(Json);
        }

        public string? MissingContainer(ParseResult parse) =>
            string.IsNullOrEmpty(parse.GetValue(Container)) ? "give the container with --container PATH (image file or block device)" : null;

        public string? MissingKeyFile(ParseResult parse) =>
            string.IsNullOrEmpty(parse.GetValue(KeyFile)) ? "give a key that opens the container with --key-file FILE (or --key-file - to read it from standard input)" : null;

        public KeySlotEditorOptions EditorOptions(ParseResult parse) => new()
        {
            RegistryPath = parse.GetValue(Registry)!,
            AfterStep = FaultInjectionHooks.HeaderSteps(),
        };
    }

    /// <summary>Where the new key of add/replace comes from: generated into --keys-out, or --passphrase.</summary>
    private sealed class NewKeyOptions
    {
        private readonly Option<string?> _keysOut = new("--keys-out")
        {
            Description = "directory the generated key is written to, as luks-HOLDER.SLOT.key (0600, never overwritten)",
        };

        private readonly Option<bool> _passphrase = new("--passphrase")
        {
            Description = "enrol a passphrase instead: typed twice without echo (or the first line of standard input when it is not a terminal)",
        };

        private readonly Option<uint?> _iterationTime = new("--iter-time")
        {
            Description = "milliseconds of key derivation per passphrase attempt (default 2000; only with --passphrase)",
        };

        public void AddTo(Command command)
        {
            command.Options.Add(_keysOut);
            command.Options.Add(_passphrase);
            command.Options.Add(_iterationTime);
        }

        public string? Check(ParseResult parse, CommonOptions common)
        {
            var keysOut = parse.GetValue(_keysOut);
            var passphrase = parse.GetValue(_passphrase);
            if (string.IsNullOrEmpty(keysOut) == !passphrase)
            {
                return "say where the new key comes from: --keys-out DIR (LuksVirt generates a key and writes it there) or --passphrase (a passphrase you type), not both";
            }

            if (parse.GetValue(_iterationTime) is { } time && (!passphrase || time == 0))
            {
                return "--iter-time applies only to --passphrase and must be at least 1 ms (generated keys use a minimal cost: they have full entropy)";
            }

            if (passphrase && !TerminalInput.IsInteractive && parse.GetValue(common.KeyFile) == "-")
            {
                return "--key-file - and --passphrase would both read standard input; give the authorising key in a file";
            }

            return null;
        }

        /// <summary>A quorum's shares are generated and written out: --keys-out, never --passphrase.</summary>
        public string? CheckQuorum(ParseResult parse) =>
            string.IsNullOrEmpty(parse.GetValue(_keysOut)) || parse.GetValue(_passphrase) || parse.GetValue(_iterationTime) is not null
                ? "keys add --quorum needs --keys-out DIR (LuksVirt generates the key and writes one share per holder there); a typed passphrase cannot be split"
                : null;

        public string? KeysOut(ParseResult parse) => parse.GetValue(_keysOut);

        /// <summary>The passphrase to enrol, or null for a generated key.</summary>
        public SecretBuffer? ReadPassphrase(ParseResult parse) => parse.GetValue(_passphrase) ? TerminalInput.ReadNewPassphrase() : null;

        public NewKey Describe(ParseResult parse, SecretBuffer? passphrase) => passphrase is null
            ? NewKey.Generated(parse.GetValue(_keysOut)!)
            : NewKey.FromPassphrase(passphrase, parse.GetValue(_iterationTime) ?? NewKey.DefaultIterationTimeMs);
    }
}
