using System.CommandLine;
using LuksVirt.Core.KeySources;
using LuksVirt.Core.KeySources.KeyDirectory;
using LuksVirt.Core.KeySources.Passphrase;
using LuksVirt.Core.KeySources.Tang;

namespace LuksVirt.Cli;

/// <summary><c>luksvirt unlock</c>: the main job, with keys from a directory and from the Tang
/// servers the containers' clevis bindings name.</summary>
internal static class UnlockCommand
{
    public static Command Create(GlobalOptions global)
    {
        var keys = new Option<string>("--keys")
        {
            Description = $"directory holding luks-<holder>[.<slot>].key files (also {KeyDirectorySource.LegacyDirectory})",
            DefaultValueFactory = _ => KeyDirectorySource.DefaultDirectory,
        };
        var ask = new Option<bool>("--ask")
        {
            Description = "also ask for a passphrase on the terminal (echo off; up to 3 tries; one passphrase is tried on every disk still locked)",
        };
        var askAgent = new Option<bool>("--ask-agent")
        {
            Description = $"also ask for a passphrase through systemd's password agents ({PasswordAgentKeySource.SystemDirectory}; answer with systemd-tty-ask-password-agent --query; up to 3 tries)",
        };
        var noTang = new Option<bool>("--no-tang")
        {
            Description = "do not ask Tang servers for the keys of containers bound with clevis (no network)",
        };
        var run = new UnlockRunOptions();
        var command = new Command("unlock", "open the encrypted disks with the presented keys (and Tang-bound disks by themselves) and start the guests whose disks are all open");
        command.Options.Add(keys);
        command.Options.Add(noTang);
        command.Options.Add(ask);
        command.Options.Add(askAgent);
        run.AddTo(command);
        command.SetAction((parse, cancellationToken) =>
        {
            var directory = parse.GetValue(keys)!;
            var keysGiven = parse.GetResult(keys) is { Implicit: false };
            return UnlockCommandRun.RunAsync(run.Bind(parse, global), parse.GetValue(global.Log)!, parse.GetValue(run.Json),
                Sources(directory, keysGiven, tang: !parse.GetValue(noTang), ask: parse.GetValue(ask), askAgent: parse.GetValue(askAgent)), cancellationToken);
        });
        return command;
    }

    /// <summary>
    /// The key directory first (it answers at once), then the Tang bindings (they wait for the
    /// network), then a person at the terminal, then one answering through systemd's password
    /// agents (each asked only for what is still locked). The default
    /// directory is read only when it exists or when nothing else is asked for, so that a host
    /// whose disks open by Tang or passphrase needs no key directory at all, while a directory
    /// named with <c>--keys</c> that is unusable still refuses the run.
    /// </summary>
    private static IKeySource[] Sources(string directory, bool keysGiven, bool tang, bool ask, bool askAgent)
    {
        var sources = new List<IKeySource>();
        if (keysGiven || !(tang || ask || askAgent) || Directory.Exists(directory))
        {
            sources.Add(new KeyDirectorySource(directory));
        }

        if (tang)
        {
            sources.Add(new TangKeySource(TangKeySource.DefaultTimeout));
        }

        if (ask)
        {
            sources.Add(new TerminalPassphraseSource());
        }

        if (askAgent)
        {
            sources.Add(new PasswordAgentKeySource());
        }

        return [.. sources];
    }
}
