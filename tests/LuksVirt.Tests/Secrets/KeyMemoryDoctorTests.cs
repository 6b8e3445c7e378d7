using System.Text.Json;
using LuksVirt.Core.Doctor;
using LuksVirt.Interop.Secrets;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Secrets;

/// <summary>
/// <c>luksvirt doctor</c> says how keys are kept: checked against what a key in this process
/// really gets, and, for a process the kernel will not let lock anything (RLIMIT_MEMLOCK 0 and
/// no CAP_IPC_LOCK), that it says keys are not locked and names the fix.
/// </summary>
public sealed class KeyMemoryDoctorTests
{
    [Fact]
    public void Doctor_names_the_memory_keys_get_here()
    {
        using var key = SecretBuffer.FromRandom(32);

        var check = KeyMemoryCheck.Run();

        Assert.Equal(CheckStatus.Ok, check.Status);
        Assert.StartsWith(key.MemoryKind == SecretMemoryKind.SecretMemory ? "memfd_secret:" : "mlock:", check.Detail, StringComparison.Ordinal);
        Assert.Contains("CAP_IPC_LOCK: no limit", check.Detail, StringComparison.Ordinal);   // the tests run as root
    }

    [Fact]
    public void Doctor_in_a_process_that_may_not_lock_memory_warns_that_keys_are_not_locked()
    {
        var (file, prefix) = LuksVirtCli.Command();
        // Root without CAP_IPC_LOCK (gone from the bounding set, so exec does not restore it) and
        // with RLIMIT_MEMLOCK 0: neither memfd_secret nor mlock can lock a page.
        var result = ToolRunner.Run("setpriv",
            ["--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock", "--", "prlimit", "--memlock=0:0", "--", file, .. prefix, "doctor", "--json"]);

        var check = JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("checks").EnumerateArray()
            .Single(c => c.GetProperty("name").GetString() == KeyMemoryCheck.Name);
        Assert.Equal("Warning", check.GetProperty("status").GetString());
        Assert.Contains("keys are NOT locked into RAM", check.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("RLIMIT_MEMLOCK 0 KiB", check.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("LimitMEMLOCK=", check.GetProperty("fix").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(SecretMemoryKind.SecretMemory, "memfd_secret:", "room for about 5 short keys (12 KiB each)")]
    [InlineData(SecretMemoryKind.LockedPages, "mlock:", "room for about 16 short keys (4 KiB each)")]
    public void Without_CAP_IPC_LOCK_doctor_states_the_room_RLIMIT_MEMLOCK_leaves(SecretMemoryKind kind, string mechanism, string room)
    {
        var check = KeyMemoryCheck.Describe(new SecretMemoryStatus(kind, LockLimitBytes: 64 * 1024, ExemptFromLockLimit: false, LockedBytes: 0));

        Assert.Equal(CheckStatus.Ok, check.Status);
        Assert.StartsWith(mechanism, check.Detail, StringComparison.Ordinal);
        Assert.Contains("RLIMIT_MEMLOCK 64 KiB", check.Detail, StringComparison.Ordinal);
        Assert.Contains(room, check.Detail, StringComparison.Ordinal);
        Assert.Contains("is held unlocked, and still works", check.Detail, StringComparison.Ordinal);
    }
}
