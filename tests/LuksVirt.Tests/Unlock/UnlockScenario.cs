using System.Text.Json;
using LuksVirt.Core.Unlock;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Unlock;

/// <summary>
/// Guests, their containers and a key directory for one end-to-end unlock test, plus the
/// command lines to run <c>luksvirt</c> against exactly those guests. Disposing removes it all.
/// </summary>
public sealed class UnlockScenario : IDisposable
{
    private readonly List<TestKey> _keys = [];

    public UnlockScenario(LibvirtdFixture libvirtd)
    {
        Directory = new TempDirectory("unlock");
        Guests = new EncryptedGuests(libvirtd.Uri, Directory);
        KeyDirectory = Directory.PathOf("keys");
        System.IO.Directory.CreateDirectory(KeyDirectory);
        File.SetUnixFileMode(KeyDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        ConfigPath = Directory.PathOf("luksvirt.xml");
        File.WriteAllText(ConfigPath, "<vms/>");
        StatePath = Directory.PathOf("state/state.json");
        LogPath = Directory.PathOf("luksvirt.log");
    }

    public TempDirectory Directory { get; }
    public EncryptedGuests Guests { get; }
    public string KeyDirectory { get; }
    public string ConfigPath { get; set; }
    public string StatePath { get; }
    public string LogPath { get; }

    public IReadOnlyList<TestKey> Keys => _keys;

    public TestKey NewKey(string holder)
    {
        var key = new TestKey(holder, SecretBuffer.GeneratePrintableKey());
        _keys.Add(key);
        return key;
    }

    /// <summary>A key with the given bytes (a passphrase a person types).</summary>
    public TestKey NewKeyFrom(string holder, ReadOnlySpan<byte> bytes)
    {
        var key = new TestKey(holder, SecretBuffer.CopyOf(bytes));
        _keys.Add(key);
        return key;
    }

    /// <summary>Drops a key file into the key directory, as an administrator or a stick would.</summary>
    public void Present(TestKey key, string fileName)
    {
        var path = Path.Combine(KeyDirectory, fileName);
        using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        file.Write(key.Secret.Span);
    }

    /// <summary>The options of an in-process run against exactly this scenario's guests.</summary>
    public UnlockOptions Options(string connectUri) => new()
    {
        ConnectUri = connectUri,
        ConfigPath = ConfigPath,
        VmNames = Guests.Guests.Select(g => g.Name).ToList(),
        StatePath = StatePath,
        HolderRegistryPath = Directory.PathOf("holders.json"),
    };

    public string[] GuestArguments() => Guests.Guests.SelectMany(g => new[] { "--vm", g.Name }).ToArray();

    /// <summary>Config, state, log and guests: what every command of one scenario shares
    /// (usb and watch take these too).</summary>
    public string[] ScopeArguments() =>
        ["--config", ConfigPath, "--state", StatePath, "--log", LogPath, .. GuestArguments()];

    public string[] UnlockArguments(params string[] extra) =>
    [
        "unlock", "--keys", KeyDirectory, "--json", .. ScopeArguments(), .. extra,
    ];

    public ToolResult Unlock(params string[] extra) => LuksVirtCli.Run(UnlockArguments(extra));

    public ToolResult Lock(int timeoutSeconds = 1) => LuksVirtCli.Run(
        ["lock", "--config", ConfigPath, "--state", StatePath, "--log", LogPath, "--json", "--timeout", timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), .. GuestArguments()]);

    public static JsonElement Json(ToolResult result)
    {
        try
        {
            return JsonDocument.Parse(result.StandardOutput).RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"not JSON (exit {result.ExitCode}): {result.StandardOutput}\n{result.StandardError}", e);
        }
    }

    public static JsonElement GuestIn(JsonElement report, TestGuest guest) =>
        report.GetProperty("guests").EnumerateArray().Single(g => g.GetProperty("name").GetString() == guest.Name);

    public void Dispose()
    {
        Guests.Dispose();
        foreach (var key in _keys)
        {
            key.Dispose();
        }

        Directory.Dispose();
    }
}
