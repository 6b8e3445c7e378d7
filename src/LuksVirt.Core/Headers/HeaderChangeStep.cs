
namespace LuksVirt.Core.Headers;

/// <summary>
/// The steps of a key slot or header change, in the order they run. After each one the container
/// still opens with a known key; tests stop the process right after any of them to prove it
/// (<c>TestFaultHook</c>, in the fault-injection build only).
/// </summary>
public enum HeaderChangeStep
{
    /// <summary>The header was copied into memory (nothing changed yet).</summary>
    HeaderSnapshot,

    /// <summary>The new key was enrolled in its slot.</summary>
    AddKey,

    /// <summary>The new key was shown to open its slot.</summary>
    VerifyNewKey,

    /// <summary>The new key was written to its key file (generated keys only).</summary>
    WriteKeyFile,

    /// <summary>The holder of the new slot was recorded.</summary>
    RecordHolder,

    /// <summary>A slot was destroyed (remove, or the old slot of a replace).</summary>
    DestroySlot,

    /// <summary>The holder record of the destroyed slot was dropped.</summary>
    ForgetHolder,

    /// <summary>A header backup file was written (header backup).</summary>
    WriteBackup,

    /// <summary>A header was restored from a backup file (header restore).</summary>
    RestoreHeader,
}

internal static class HeaderChangeSteps
{
    /// <summary>The kebab-case name of a step, e.g. "add-key" (the tests' fault hook takes these).</summary>
    public static string NameOf(HeaderChangeStep step) => step switch
    {
        HeaderChangeStep.HeaderSnapshot => "header-snapshot",
        HeaderChangeStep.AddKey => "add-key",
        HeaderChangeStep.VerifyNewKey => "verify-new-key",
        HeaderChangeStep.WriteKeyFile => "write-key-file",
        HeaderChangeStep.RecordHolder => "record-holder",
        HeaderChangeStep.DestroySlot => "destroy-slot",
        HeaderChangeStep.ForgetHolder => "forget-holder",
        HeaderChangeStep.WriteBackup => "write-backup",
        HeaderChangeStep.RestoreHeader => "restore-header",
        _ => throw new ArgumentOutOfRangeException(nameof(step), step, "unknown step"),
    };

    public static bool TryParse(string name, out HeaderChangeStep step)
    {
        foreach (var candidate in Enum.GetValues<HeaderChangeStep>())
        {
            if (NameOf(candidate) == name)
            {
                step = candidate;
                return true;
            }
        }

        step = default;
        return false;
    }
}
