using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Quorum;

/// <summary>Guests whose one disk opens with a quorum of holders' shares, made the way an
/// administrator makes them: <c>luksvirt keys add --quorum</c>.</summary>
internal static class QuorumGuests
{
    /// <summary>A guest whose disk has an administrator's key in slot 0 (never presented) and a
    /// <paramref name="threshold"/>-of-n quorum slot; returns the guest and each holder's share file.
    /// <paramref name="alsoEnrol"/>, given the disk and the administrator's key, adds more before
    /// the guest is defined (a Tang binding beside the quorum).</summary>
    public static (TestGuest Guest, IReadOnlyDictionary<string, string> Shares) Define(
        UnlockScenario s, string role, IReadOnlyList<string> holders, int threshold, Action<TestDisk, TestKey>? alsoEnrol = null)
    {
        var admin = s.NewKey("admin");
        var disk = s.Guests.CreateDisk($"{role}-d0", "vda", new Dictionary<int, TestKey> { [0] = admin });
        var adminFile = s.Directory.PathOf($"{role}-admin.key");
        File.WriteAllBytes(adminFile, admin.Secret.Span.ToArray());
        var keysOut = s.Directory.PathOf($"{role}-shares");
        Directory.CreateDirectory(keysOut, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        LuksVirtCli.Run(["keys", "add", "--container", disk.Path, "--registry", s.Directory.PathOf("holders.json"),
                .. holders.SelectMany(h => new[] { "--holder", h }), "--quorum", threshold.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--key-file", adminFile, "--keys-out", keysOut])
            .EnsureSuccess("keys add --quorum");
        var shares = holders.ToDictionary(h => h, h => Assert.Single(Directory.GetFiles(keysOut, $"luks-{h}.*")));
        alsoEnrol?.Invoke(disk, admin);
        return (s.Guests.Define(EncryptedGuests.UniqueName(role), disk), shares);
    }

    /// <summary>Drops a copy of a holder's share file into the key directory (as
    /// <paramref name="name"/>, or its own name), as a holder would.</summary>
    public static void Present(UnlockScenario s, string shareFile, string? name = null)
    {
        var target = Path.Combine(s.KeyDirectory, name ?? Path.GetFileName(shareFile));
        File.Copy(shareFile, target);
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
