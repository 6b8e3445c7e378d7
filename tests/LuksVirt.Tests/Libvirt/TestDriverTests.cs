using LuksVirt.Interop.Libvirt;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Libvirt;

/// <summary>Fast binding tests on libvirt's built-in test driver. test:///default is one shared
/// in-memory host per process, so every domain a test defines has a unique name.</summary>
public sealed class TestDriverTests : IDisposable
{
    private const string TestUri = "test:///default";
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);

    private readonly LibvirtConnection _connection = LibvirtConnection.Open(TestUri);
    private readonly List<string> _definedNames = [];

    public void Dispose()
    {
        foreach (var name in _definedNames)
        {
            using var domain = _connection.TryLookupDomainByName(name);
            if (domain is null)
            {
                continue;
            }

            if (domain.IsActive)
            {
                domain.Destroy();
            }

            domain.Undefine();
        }

        _connection.Dispose();
    }

    [Fact]
    public void Open_reports_driver_uri_versions_and_liveness()
    {
        Assert.Equal("TEST", _connection.HypervisorType);
        Assert.Equal(TestUri, _connection.Uri);
        Assert.True(_connection.IsAlive);
        Assert.True(LibvirtConnection.LibraryVersion >= 9_000_000, $"libvirt {LibvirtConnection.LibraryVersion}");
        // The test driver runs inside this process: the "daemon" is our own library.
        Assert.Equal(LibvirtConnection.LibraryVersion, _connection.DaemonVersion);
        Assert.True(_connection.HypervisorVersion > 0);
    }

    [Fact]
    public void ListAllDomains_includes_the_builtin_test_domain()
    {
        var domains = _connection.ListAllDomains();
        try
        {
            var builtin = Assert.Single(domains, d => d.Name == "test");
            Assert.NotEqual(Guid.Empty, builtin.Uuid);
            Assert.Equal(DomainState.Running, builtin.State);
        }
        finally
        {
            foreach (var domain in domains)
            {
                domain.Dispose();
            }
        }
    }

    [Fact]
    public void Lookup_by_name_and_by_uuid_find_the_same_domain()
    {
        using var byName = _connection.LookupDomainByName("test");
        using var byUuid = _connection.LookupDomainByUuid(byName.Uuid);

        Assert.Equal("test", byUuid.Name);
        Assert.Equal(byName.Uuid, byUuid.Uuid);
    }

    [Fact]
    public void Missing_domain_name_throws_DomainNotFoundException()
    {
        var name = LibvirtdFixture.UniqueName();

        var exception = Assert.Throws<DomainNotFoundException>(() => _connection.LookupDomainByName(name));

        Assert.Equal("virDomainLookupByName", exception.Function);
        Assert.Equal(42, exception.Code); // VIR_ERR_NO_DOMAIN
        Assert.Contains("Domain not found", exception.Message, StringComparison.Ordinal);
        Assert.Null(_connection.TryLookupDomainByName(name));
        Assert.Throws<DomainNotFoundException>(() => _connection.LookupDomainByUuid(Guid.NewGuid()));
    }

    [Fact]
    public void Unreachable_daemon_throws_LibvirtConnectionException()
    {
        var exception = Assert.Throws<LibvirtConnectionException>(() => LibvirtConnection.Open("qemu+unix:///system?socket=/nonexistent"));

        Assert.Equal("virConnectOpen", exception.Function);
        Assert.Contains("/nonexistent", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defined_domain_starts_is_destroyed_and_undefined()
    {
        using var domain = DefineScratchDomain(out var name);
        Assert.True(domain.IsPersistent);
        Assert.False(domain.IsActive);
        Assert.Equal(DomainState.Shutoff, domain.State);
        Assert.Contains($"<name>{name}</name>", domain.GetXml(inactive: true), StringComparison.Ordinal);

        domain.Start();
        Assert.True(domain.IsActive);
        Assert.Equal(DomainState.Running, domain.State);
        Assert.Contains("id=", domain.GetXml(), StringComparison.Ordinal);
        var again = Assert.ThrowsAny<LibvirtException>(domain.Start);
        Assert.Equal("virDomainCreate", again.Function);
        Assert.Contains("already running", again.Message, StringComparison.Ordinal);

        domain.Destroy();
        Assert.Equal(DomainState.Shutoff, domain.State);
        var notRunning = Assert.Throws<LibvirtOperationInvalidException>(domain.Destroy);
        Assert.Equal(55, notRunning.Code); // VIR_ERR_OPERATION_INVALID
        domain.Undefine();
        Assert.Null(_connection.TryLookupDomainByName(name));
    }

    [Fact]
    public void Autostart_is_stored_and_read_back()
    {
        using var domain = DefineScratchDomain(out _);
        Assert.False(domain.Autostart);

        domain.Autostart = true;
        Assert.True(domain.Autostart);

        domain.Autostart = false;
        Assert.False(domain.Autostart);
    }

    [Fact]
    public async Task Lifecycle_events_report_start_and_stop_with_name_and_uuid()
    {
        using var domain = DefineScratchDomain(out var name);
        var uuid = domain.Uuid;
        var started = new TaskCompletionSource<DomainLifecycleEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stopped = new TaskCompletionSource<DomainLifecycleEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = _connection.SubscribeDomainLifecycle(e =>
        {
            if (e.DomainUuid != uuid)
            {
                return;
            }

            if (e.Kind == DomainLifecycleEventKind.Started)
            {
                started.TrySetResult(e);
            }
            else if (e.Kind == DomainLifecycleEventKind.Stopped)
            {
                stopped.TrySetResult(e);
            }
        });

        domain.Start();
        var start = await started.Task.WaitAsync(EventTimeout);
        domain.Destroy();
        var stop = await stopped.Task.WaitAsync(EventTimeout);

        Assert.Equal(name, start.DomainName);
        Assert.Equal(DomainState.Running, start.ResultingState);
        Assert.Equal(name, stop.DomainName);
        Assert.Equal(DomainState.Shutoff, stop.ResultingState);
    }

    [Fact]
    public async Task WaitForDomainState_sees_a_start_that_happens_after_the_wait_began()
    {
        using var domain = DefineScratchDomain(out _);

        var waiting = _connection.WaitForDomainStateAsync(domain, DomainState.Running, EventTimeout);
        Assert.False(waiting.IsCompleted);
        domain.Start();

        Assert.Equal(DomainState.Running, await waiting);
    }

    [Fact]
    public async Task WaitForDomainState_returns_at_once_when_the_state_already_holds()
    {
        using var domain = DefineScratchDomain(out _);

        var state = await _connection.WaitForDomainStateAsync(domain, s => s is DomainState.Shutoff or DomainState.Crashed, TimeSpan.FromMilliseconds(1));

        Assert.Equal(DomainState.Shutoff, state);
    }

    [Fact]
    public async Task WaitForDomainState_times_out_naming_domain_and_state()
    {
        using var domain = DefineScratchDomain(out var name);

        var exception = await Assert.ThrowsAsync<TimeoutException>(
            () => _connection.WaitForDomainStateAsync(domain, DomainState.Running, TimeSpan.FromMilliseconds(200)));

        Assert.Contains(name, exception.Message, StringComparison.Ordinal);
        Assert.Contains("Running", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WaitForDomainState_honours_cancellation()
    {
        using var domain = DefineScratchDomain(out _);
        using var cancellation = new CancellationTokenSource();

        var waiting = _connection.WaitForDomainStateAsync(domain, DomainState.Running, TimeSpan.FromMinutes(5), cancellation.Token);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }

    [Fact]
    public async Task A_throwing_handler_neither_crashes_the_process_nor_keeps_events_from_others()
    {
        using var domain = DefineScratchDomain(out _);
        var uuid = domain.Uuid;
        var throwingCalls = 0;
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var throwing = _connection.SubscribeDomainLifecycle(e =>
        {
            if (e.DomainUuid == uuid)
            {
                Interlocked.Increment(ref throwingCalls);
                throw new InvalidOperationException("handler failure on purpose");
            }
        });
        using var witness = _connection.SubscribeDomainLifecycle(e =>
        {
            if (e.DomainUuid == uuid && e.Kind == DomainLifecycleEventKind.Stopped)
            {
                stopped.TrySetResult();
            }
        });

        domain.Start();
        domain.Destroy();
        await stopped.Task.WaitAsync(EventTimeout);

        // Subscribers get an event in subscription order: the throwing handler saw both
        // Started and Stopped before the witness saw Stopped.
        Assert.Equal(2, Volatile.Read(ref throwingCalls));
    }

    [Fact]
    public async Task Every_subscriber_of_a_connection_gets_each_event()
    {
        using var domain = DefineScratchDomain(out _);
        var uuid = domain.Uuid;
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var one = _connection.SubscribeDomainLifecycle(e =>
        {
            if (e.DomainUuid == uuid && e.Kind == DomainLifecycleEventKind.Started)
            {
                first.TrySetResult();
            }
        });
        using var two = _connection.SubscribeDomainLifecycle(e =>
        {
            if (e.DomainUuid == uuid && e.Kind == DomainLifecycleEventKind.Started)
            {
                second.TrySetResult();
            }
        });

        domain.Start();

        await Task.WhenAll(first.Task, second.Task).WaitAsync(EventTimeout);
    }

    [Fact]
    public async Task A_disposed_subscription_gets_no_further_events()
    {
        using var domain = DefineScratchDomain(out _);
        var uuid = domain.Uuid;
        var calls = 0;
        var subscription = _connection.SubscribeDomainLifecycle(e =>
        {
            if (e.DomainUuid == uuid)
            {
                Interlocked.Increment(ref calls);
            }
        });
        subscription.Dispose();

        var waiting = _connection.WaitForDomainStateAsync(domain, DomainState.Running, EventTimeout);
        domain.Start();
        await waiting;

        Assert.Equal(0, Volatile.Read(ref calls));
    }

    [Fact]
    public void Domain_keeps_working_after_its_connection_is_disposed()
    {
        var connection = LibvirtConnection.Open(TestUri);
        using var domain = connection.LookupDomainByName("test");

        connection.Dispose();

        Assert.Throws<ObjectDisposedException>(() => connection.ListAllDomains());
        Assert.Equal("test", domain.Name);
        Assert.Equal(DomainState.Running, domain.State);
        Assert.Contains("<name>test</name>", domain.GetXml(), StringComparison.Ordinal);
        domain.Dispose();
        Assert.Throws<ObjectDisposedException>(() => domain.State);
    }

    private LibvirtDomain DefineScratchDomain(out string name)
    {
        name = LibvirtdFixture.UniqueName();
        _definedNames.Add(name);
        return _connection.DefineDomain(
            $"<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>");
    }
}
