using LuksVirt.Core.Unlock;

namespace LuksVirt;

/// <summary>The exit codes of the command-line contract (architecture.md).</summary>
internal static class ExitCodes
{
    /// <summary>All requested work done.</summary>
    public const int Success = 0;

    /// <summary>Some of it failed; the report says what.</summary>
    public const int Failure = 1;

    /// <summary>Bad usage or configuration; nothing was changed.</summary>
    public const int Usage = 2;

    /// <summary>The exit code of an unlock that ended so.</summary>
    public static int Of(UnlockEnding ending) => ending switch
    {
        UnlockEnding.AllDone => Success,
        UnlockEnding.RefusedUnchanged => Usage,
        _ => Failure,
    };
}
