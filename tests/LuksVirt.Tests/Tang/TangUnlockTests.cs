using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;
using LuksVirt.Tests.Unlock;

namespace LuksVirt.Tests.Tang;

/// <summary>
/// <c>luksvirt unlock</c> with nobody present: guests whose LUKS1 disks were bound to a real Tang
/// server by Debian's own <c>clevis luks bind</c> (a LUKSMeta slot, as clevis writes it on LUKS1)
/// start with no key file at all, beside guests whose keys are presented as before; with the
/// server down they stay off and the report names the server.
/// </summary>
[Collection(LibvirtdFixture.CollectionName)]
public sealed class TangUnlockTests(LibvirtdFixture libvirtd, TangServer server) : IClassFixture<TangServer>, IDisposable
{
    private readonly UnlockScenario _scenario = new(libvirtd);

    public void Dispose() => _scenario.Dispose();

    /// <summary>A guest with one disk whose slot 0 holds a key nobody presents, bound to the Tang
    /// server by clevis (which adds its own slot).</summary>
    private TestGuest TangBoundGuest(string role) => TangBoundGuest(role, server);

    private TestGuest TangBoundGuest(string role, TangServer server) =>
        _scenario.Guests.Define(EncryptedGuests.UniqueName(role), ClevisBind.TangBoundDisk(_scenario, $"{role}-d0", "vda", server));

    [Fact]
    public void A_guest_bound_by_clevis_starts_with_no_key_presented_beside_a_guest_whose_key_is_presented()
    {
        var bound = TangBoundGuest("tang");
        var alice = _scenario.NewKey("alice");
        var keyed = _scenario.Guests.Define(EncryptedGuests.UniqueName("keyed"),
            _scenario.Guests.CreateDisk("keyed-d0", "vda", new Dictionary<int, TestKey> { [1] = alice }));
        _scenario.Present(alice, "luks-alice.1.key");

        var result = _scenario.Unlock();

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(bound));
        Assert.Equal(DomainState.Running, _scenario.Guests.StateOf(keyed));
        var report = UnlockScenario.Json(result);
        var disk = Assert.Single(UnlockScenario.GuestIn(report, bound).GetProperty("disks").EnumerateArray());
        Assert.Equal(("Opened", "tang"), (disk.GetProperty("outcome").GetString(), disk.GetProperty("holder").GetString()));
        Assert.NotEqual(0, disk.GetProperty("slot").GetInt32());
    }

    [Fact]
    public void The_recovered_key_is_in_no_file_and_no_log_after_the_run()
    {
        var bound = TangBoundGuest("tangleak");

        var result = _scenario.Unlock();

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        var slot = Assert.Single(UnlockScenario.GuestIn(UnlockScenario.Json(result), bound).GetProperty("disks").EnumerateArray()).GetProperty("slot").GetInt32();
        // The witness: clevis itself recovers the same passphrase, after the run.
        var recovered = ToolRunner.Run("clevis", "luks", "pass", "-d", bound.Disks[0].Path, "-s", slot.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .EnsureSuccess("clevis luks pass").StandardOutput;
        var key = _scenario.NewKeyFrom("tang", System.Text.Encoding.ASCII.GetBytes(recovered));
        var scanner = new KeyLeakScanner([key]);

        Assert.Empty(scanner.ScanFiles(KeyLeakScanner.HostRoots, new HashSet<string>()));
        Assert.DoesNotContain(recovered, result.StandardOutput + result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void With_the_server_down_the_bound_guest_stays_off_and_the_report_names_the_server()
    {
        TestGuest bound;
        string url;
        using (var doomed = new TangServer())
        {
            bound = TangBoundGuest("tangdown", doomed);
            url = doomed.Url;
        }

        var result = _scenario.Unlock();

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(bound));
        var rejected = UnlockScenario.Json(result).GetProperty("keys").GetProperty("rejected").EnumerateArray()
            .Select(r => (Name: r.GetProperty("name").GetString()!, Reason: r.GetProperty("reason").GetString()!))
            .ToList();
        var binding = Assert.Single(rejected, r => r.Name.StartsWith(bound.Disks[0].Path, StringComparison.Ordinal));
        Assert.Contains("LUKSMeta slot", binding.Name, StringComparison.Ordinal);
        Assert.Contains(url, binding.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_sss_binding_over_three_servers_opens_with_one_of_them_gone()
    {
        var s = _scenario;
        var enrolment = s.NewKey("enrolment");
        var disk = s.Guests.CreateDisk("sss-d0", "vda", new Dictionary<int, TestKey> { [0] = enrolment });
        string gone;
        using var second = new TangServer();
        using (var third = new TangServer())
        {
            var configuration = $$$"""{"t":2,"pins":{"tang":[{{{Pin(server)}}},{{{Pin(second)}}},{{{Pin(third)}}}]}}""";
            ToolRunner.Run("clevis", ["luks", "bind", "-y", "-d", disk.Path, "-k", "-", "sss", configuration], enrolment.Secret.Span.ToArray())
                .EnsureSuccess("clevis luks bind sss");
            gone = third.Url;
        }

        var guest = s.Guests.Define(EncryptedGuests.UniqueName("sss"), disk);

        var result = s.Unlock();

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.Equal(DomainState.Running, s.Guests.StateOf(guest));
        var opened = Assert.Single(UnlockScenario.GuestIn(UnlockScenario.Json(result), guest).GetProperty("disks").EnumerateArray());
        Assert.Equal(("Opened", "tang"), (opened.GetProperty("outcome").GetString(), opened.GetProperty("holder").GetString()));
        Assert.DoesNotContain(gone, result.StandardOutput, StringComparison.Ordinal);
    }

    private static string Pin(TangServer tang) => $$"""{"url":"{{tang.Url}}","thp":"{{tang.SigningKeyThumbprint}}"}""";

    [Fact]
    public void No_tang_leaves_a_bound_guest_off_and_reports_no_binding()
    {
        var bound = TangBoundGuest("notang");

        var result = _scenario.Unlock("--no-tang");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(DomainState.Shutoff, _scenario.Guests.StateOf(bound));
        Assert.Empty(UnlockScenario.Json(result).GetProperty("keys").GetProperty("rejected").EnumerateArray());
    }
}
