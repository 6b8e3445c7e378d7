using System.Globalization;

namespace LuksVirt.Core.KeySources.Quorum;

/// <summary>
/// The quorum shares a long-running service (<c>watch</c>) keeps between runs: holders rarely
/// stand at the rack together, so a share presented on one stick waits in locked memory for the
/// next holder's, for <see cref="Length"/> from the first share kept. The window ends when the
/// quorum is met (the shares are combined and wiped), when it expires, on a lock, or when the
/// service stops (<see cref="Wipe"/>, <see cref="Dispose"/>); the next share then starts a fresh
/// count. Used by one thread at a time (the service's worker).
/// </summary>
public sealed class QuorumShareWindow(TimeSpan length, TimeProvider clock) : IDisposable
{
    /// <summary>The default window: time for the other holders to walk to the rack.</summary>
    public static TimeSpan DefaultLength { get; } = TimeSpan.FromMinutes(15);

    private QuorumShares? _shares;

    public TimeSpan Length => length;

    /// <summary>When the shares held now are wiped; null while none is held.</summary>
    public DateTimeOffset? ExpiresAt { get; private set; }

    /// <summary>How many shares are held now.</summary>
    public int HeldShares => _shares?.Count ?? 0;

    /// <summary>The shares of the runs in this window: a run reads every source through them.</summary>
    internal QuorumShares Shares => _shares ??= new QuorumShares();

    /// <summary>The quorums not met yet with the time left, one line each: "db: 1 of 2 holders
    /// present (alice), waiting for bob or carol, 13 min left". Empty when none is held.</summary>
    public IReadOnlyList<string> Waiting() =>
        ExpiresAt is { } expiresAt ? WithTimeLeft(WaitingQuorums, expiresAt, clock.GetUtcNow()) : [];

    /// <summary>The quorums not met yet, without the time: "db: 1 of 2 holders present (alice),
    /// waiting for bob or carol".</summary>
    public IReadOnlyList<string> WaitingQuorums => _shares is { Count: > 0 } shares ? shares.Waiting() : [];

    /// <summary>Each quorum line with the minutes left until <paramref name="expiresAt"/>.</summary>
    public static IReadOnlyList<string> WithTimeLeft(IEnumerable<string> quorums, DateTimeOffset expiresAt, DateTimeOffset now)
    {
        var minutesLeft = (int)Math.Ceiling(Math.Max(0, (expiresAt - now).TotalMinutes));
        return [.. quorums.Select(q => string.Create(CultureInfo.InvariantCulture, $"{q}, {minutesLeft} min left"))];
    }

    /// <summary>After each run: with shares held, the window is open (its expiry set when the
    /// first of them came); with none held (the quorum was met, or no share came), the next share
    /// starts a fresh count.</summary>
    public void AfterRun()
    {
        if (HeldShares == 0)
        {
            Reset();
            return;
        }

        ExpiresAt ??= clock.GetUtcNow() + length;
    }

    /// <summary>Wipes the shares when the window has expired; returns how many were wiped.</summary>
    public int ExpireIfDue() => ExpiresAt is { } expiresAt && clock.GetUtcNow() >= expiresAt ? Wipe() : 0;

    /// <summary>Wipes every share held now (a lock, the service stopping); returns how many.</summary>
    public int Wipe()
    {
        var wiped = HeldShares;
        Reset();
        return wiped;
    }

    public void Dispose() => Reset();

    private void Reset()
    {
        _shares?.Dispose();
        _shares = null;
        ExpiresAt = null;
    }
}
