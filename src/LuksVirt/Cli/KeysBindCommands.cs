using System.CommandLine;
using System.Globalization;
using LuksVirt.Core.Containers;
using LuksVirt.Core.KeyManagement;
using LuksVirt.Interop.Secrets;
using Spectre.Console;

namespace LuksVirt.Cli;

/// <summary>
/// <c>luksvirt keys bind|unbind|rebind</c>: key slots bound to Tang servers (pins tang and sss),
/// stored as clevis stores them. The work is done by <see cref="KeySlotEditor"/>; this file reads
/// options, asks the administrator to confirm untrusted advertisements, and prints.
/// </summary>
internal static partial class KeysCommand
{
    private static Command CreateBind()
    {
        var options = new CommonOptions();
        var pin = new Argument<string>("PIN") { Description = "tang, or sss (a threshold over several pins, nested as clevis allows)" };
        pin.CompletionSources.Add("tang", "sss");
        var configuration = new Argument<string>("CONFIG") { Description = "the pin's configuration as clevis takes it, e.g. '{\"url\":\"http://tang.example\",\"thp\":\"...\"}' or '{\"t\":2,\"pins\":{\"tang\":[{\"url\":..},{\"url\":..}]}}'" };
        var holder = new Option<string?>("--holder") { Description = "record a holder name for the new slot (A-Z a-z 0-9 _ -)" };
        var yes = new Option<bool>("--yes") { Description = "trust the servers' advertisements without asking (else signing keys not given as thp are shown to confirm)" };
        var command = new Command("bind",
            "Bind a new random key in a free slot to Tang servers, as 'clevis luks bind' does (a clevis token on LUKS2, a LUKSMeta slot on LUKS1), authorised by a key that opens the container.");
        command.Arguments.Add(pin);
        command.Arguments.Add(configuration);
        options.AddTo(command, withKeyFile: true);
        command.Options.Add(holder);
        command.Options.Add(yes);
        command.SetAction((parse, cancellationToken) =>
        {
            var json = parse.GetValue(options.Json);
            return ContainerCommandRunner.RunAsync(json, async () =>
            {
                if ((options.MissingContainer(parse) ?? options.MissingKeyFile(parse)) is { } refusal)
                {
                    return ContainerCommandRunner.Refuse(json, refusal);
                }

                var keyFile = parse.GetValue(options.KeyFile)!;
                using var editor = KeySlotEditor.Open(parse.GetValue(options.Container)!, options.EditorOptions(parse));
                using var authorisingKey = ContainerCommandRunner.ReadKey(keyFile);
                var confirm = new AdvertisementConfirmation(parse.GetValue(yes), stdinIsFree: keyFile != "-");
                var change = await editor.BindAsync(authorisingKey, parse.GetValue(pin)!, parse.GetValue(configuration)!, parse.GetValue(holder),
                    confirm.Ask, cancellationToken: cancellationToken).ConfigureAwait(false);
                return ReportBinding("bind", change, json);
            });
        });
        return command;
    }

    private static Command CreateUnbind()
    {
        var options = new CommonOptions();
        var slot = new Option<int?>("--slot") { Description = "the bound key slot: its binding and the slot are removed (required)" };
        var keyFile = new Option<string?>("--key-file")
        {
            Description = "a key of another slot, checked to open the container before and after (optional; - for standard input)",
        };
        var command = new Command("unbind",
            "Remove a slot's clevis binding and the slot, as 'clevis luks unbind' does; the last active slot is never removed.");
        options.AddTo(command, withKeyFile: false);
        command.Options.Add(slot);
        command.Options.Add(keyFile);
        command.SetAction(parse =>
        {
            var json = parse.GetValue(options.Json);
            return ContainerCommandRunner.Run(json, () =>
            {
                var refusal = options.MissingContainer(parse) ?? MissingSlot(parse, slot, "unbind");
                if (refusal is not null)
                {
                    return ContainerCommandRunner.Refuse(json, refusal);
                }

                using var editor = KeySlotEditor.Open(parse.GetValue(options.Container)!, options.EditorOptions(parse));
                using var authorisingKey = parse.GetValue(keyFile) is { Length: > 0 } file ? ContainerCommandRunner.ReadKey(file) : null;
                return ReportBinding("unbind", editor.Unbind(parse.GetValue(slot)!.Value, authorisingKey), json);
            });
        });
        return command;
    }

    private static Command CreateRebind()
    {
        var options = new CommonOptions();
        var slot = new Option<int?>("--slot") { Description = "the bound key slot (required)" };
        var yes = new Option<bool>("--yes") { Description = "trust a server's new advertisement without asking when its former signing key no longer vouches for it" };
        var command = new Command("rebind",
            "After a Tang key rotation: recover the slot's key through its servers and write a new binding with their current keys in place of the old (the old stays valid until the new is written).");
        options.AddTo(command, withKeyFile: false);
        command.Options.Add(slot);
        command.Options.Add(yes);
        command.SetAction((parse, cancellationToken) =>
        {
            var json = parse.GetValue(options.Json);
            return ContainerCommandRunner.RunAsync(json, async () =>
            {
                var refusal = options.MissingContainer(parse) ?? MissingSlot(parse, slot, "rebind");
                if (refusal is not null)
                {
                    return ContainerCommandRunner.Refuse(json, refusal);
                }

                using var editor = KeySlotEditor.Open(parse.GetValue(options.Container)!, options.EditorOptions(parse));
                var confirm = new AdvertisementConfirmation(parse.GetValue(yes), stdinIsFree: true);
                var change = await editor.RebindAsync(parse.GetValue(slot)!.Value, confirm.Ask, cancellationToken: cancellationToken).ConfigureAwait(false);
                return ReportBinding("rebind", change, json);
            });
        });
        return command;
    }

    private static string? MissingSlot(ParseResult parse, Option<int?> slot, string action) =>
        parse.GetValue(slot) is null ? $"keys {action} needs --slot N: the bound key slot ('luksvirt keys list' shows the bindings)" : null;

    private static int ReportBinding(string action, ClevisBindingChange change, bool json)
    {
        if (json)
        {
            JsonOutput.Write(
                new KeysBindingReport(action, change.Container, change.Slot, change.Holder, change.Location, PinReport.From(change.Pin))
                {
                    OldKeyIds = change.OldKeyIds?.ToArray(),
                    NewKeyIds = change.NewKeyIds?.ToArray(),
                },
                CliJsonContext.Default.KeysBindingReport);
            return ExitCodes.Success;
        }

        var container = Markup.Escape(change.Container);
        var pin = Markup.Escape(change.Pin.Describe());
        var where = Markup.Escape(change.Location);
        AnsiConsole.MarkupLine(action switch
        {
            "bind" => string.Create(CultureInfo.InvariantCulture, $"[green]Bound[/] key slot {change.Slot} of {container} to {pin} ({where}). Its key exists only in the binding: keep another key for recovery."),
            "unbind" => string.Create(CultureInfo.InvariantCulture, $"[yellow]Unbound[/] key slot {change.Slot} of {container} ({pin}); the slot is removed."),
            _ => string.Create(CultureInfo.InvariantCulture,
                $"[green]Rebound[/] key slot {change.Slot} of {container} to {pin} ({where}): exchange keys {Markup.Escape(string.Join(", ", change.OldKeyIds ?? []))} -> {Markup.Escape(string.Join(", ", change.NewKeyIds ?? []))}."),
        });
        return ExitCodes.Success;
    }

    private static void PrintBindings(KeySlotEditor editor)
    {
        if (editor.ClevisRoomProblem is { } noRoom)
        {
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(noRoom)}[/]");
        }

        foreach (var binding in editor.ListBindings())
        {
            var slot = binding.Slot is { } number ? number.ToString(CultureInfo.InvariantCulture) : "?";
            AnsiConsole.MarkupLine(binding.Pin is { } pin
                ? $"Slot {slot} is bound ({Markup.Escape(binding.Location)}): {Markup.Escape(pin.Describe())}"
                : $"[red]{Markup.Escape(binding.Location)}[/]: {Markup.Escape(binding.Problem ?? "unreadable")}");
        }
    }

    /// <summary>Asks the person at the terminal to trust the signing keys of advertisements
    /// nobody vouched for; refuses, naming the fix, when nobody can answer.</summary>
    private sealed class AdvertisementConfirmation(bool yes, bool stdinIsFree)
    {
        public bool Ask(IReadOnlyList<TangServerToConfirm> servers)
        {
            var keys = string.Join("; ", servers.Select(s => $"{s.Url} is signed by {string.Join(", ", s.SigningKeyThumbprints)}"));
            if (yes)
            {
                Console.Error.WriteLine($"luksvirt: trusted without asking (--yes): {keys}");
                return true;
            }

            if (!TerminalInput.IsInteractive || !stdinIsFree)
            {
                throw new ContainerRefusedException(
                    $"nobody vouched for these Tang advertisements: {keys}. Nobody can confirm them here (standard input is not a terminal, or carries the key): compare the thumbprints with the server's ('tang-show-keys' on the server), then give them as \"thp\" in the configuration, or confirm with --yes; nothing was changed");
            }

            Console.Error.WriteLine("Compare these signing-key thumbprints with the server's ('tang-show-keys' on the server):");
            foreach (var server in servers)
            {
                Console.Error.WriteLine($"  {server.Url}: {string.Join(", ", server.SigningKeyThumbprints)}");
            }

            return TerminalInput.Confirm("Trust these servers with this container's key?");
        }
    }
}
