using System.CommandLine;
using LuksVirt.Core.KeySources.UsbStick;

namespace LuksVirt.Cli;

/// <summary><c>luksvirt usb DEVICE</c>: one unlock with the keys on a stick (or an image of one),
/// read without mounting it. Same options, report and exit codes as <c>unlock</c>; this is what
/// the udev entry point (luksvirt-usb@.service) runs.</summary>
internal static class UsbCommand
{
    public static Command Create(GlobalOptions global)
    {
        var device = new Argument<string>("DEVICE") { Description = "the stick's block device (/dev/sdb) or an image file of one" };
        var depth = KeysDepthOption();
        var run = new UnlockRunOptions();
        var command = new Command("usb", "read the key files on a USB stick (no mount) and unlock with them, as unlock does");
        command.Arguments.Add(device);
        command.Options.Add(depth);
        run.AddTo(command);
        command.SetAction((parse, cancellationToken) =>
        {
            var options = run.Bind(parse, global);
            var path = parse.GetValue(device)!;
            var maxDepth = parse.GetValue(depth);
            if (CheckKeysDepth(maxDepth) is { } problem)
            {
                Console.Error.WriteLine($"error: {problem}");
                return Task.FromResult(ExitCodes.Usage);
            }

            return UnlockCommandRun.RunAsync(options, parse.GetValue(global.Log)!, parse.GetValue(run.Json),
                [new UsbKeySource(path, maxDepth)], cancellationToken);
        });
        return command;
    }

    /// <summary>--keys-depth, shared with <c>watch</c>.</summary>
    public static Option<int> KeysDepthOption()
    {
        return new Option<int>("--keys-depth")
        {
            Description = $"directory levels below the stick's root searched for key files (0 = root only, at most {UsbKeySource.DeepestAllowed})",
            DefaultValueFactory = _ => UsbKeySource.DefaultMaxDepth,
        };
    }

    /// <summary>The usage error for a --keys-depth out of range, or null when it is fine.</summary>
    public static string? CheckKeysDepth(int value) =>
        value < 0 || value > UsbKeySource.DeepestAllowed ? $"--keys-depth must be 0 to {UsbKeySource.DeepestAllowed}" : null;
}
