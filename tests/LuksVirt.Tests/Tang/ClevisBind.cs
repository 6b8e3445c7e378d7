using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Tang;

/// <summary>Disks bound to Tang servers by Debian's own <c>clevis luks bind</c> (on LUKS1 a
/// LUKSMeta slot, as clevis writes it), the way an administrator binds them.</summary>
internal static class ClevisBind
{
    /// <summary>A disk whose slot 0 holds a key nobody presents, bound to <paramref name="server"/>
    /// (clevis adds its own slot).</summary>
    public static TestDisk TangBoundDisk(UnlockScenario s, string name, string targetDev, TangServer server)
    {
        var enrolment = s.NewKey("enrolment");
        var disk = s.Guests.CreateDisk(name, targetDev, new Dictionary<int, TestKey> { [0] = enrolment });
        Bind(disk, enrolment, server);
        return disk;
    }

    /// <summary>Binds <paramref name="disk"/> to <paramref name="server"/>, authorised by
    /// <paramref name="existing"/> (a key of one of its slots); clevis adds a slot of its own.</summary>
    public static void Bind(TestDisk disk, TestKey existing, TangServer server)
    {
        var configuration = $$"""{"url":"{{server.Url}}","thp":"{{server.SigningKeyThumbprint}}"}""";
        ToolRunner.Run("clevis", ["luks", "bind", "-y", "-d", disk.Path, "-k", "-", "tang", configuration], existing.Secret.Span.ToArray())
            .EnsureSuccess("clevis luks bind");
    }
}
