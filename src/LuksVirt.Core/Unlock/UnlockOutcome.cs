namespace LuksVirt.Core.Unlock;

/// <summary>How an unlock run ended, in the terms of the command-line contract (each front end
/// maps it to its own exit code or log line).</summary>
public enum UnlockEnding
{
    /// <summary>All requested work done: every guest in scope runs (or would, in a dry run).</summary>
    AllDone,

    /// <summary>Some of it failed, or could not even start (the report, when there is one, says what).</summary>
    SomeFailed,

    /// <summary>Bad usage or configuration, found before anything was changed.</summary>
    RefusedUnchanged,
}

/// <summary>How one unlock run ended, and its report when the run got as far as making one.</summary>
public sealed record UnlockOutcome(UnlockEnding Ending, UnlockReport? Report = null);
