namespace LuksVirt.Interop.Cryptsetup;

/// <summary>
/// Why libcryptsetup refused a header that carries the LUKS signature, in its own words. A LUKS1
/// fault comes with an ERROR line ("LUKS keyslot 0 is invalid."), but most LUKS2 faults (a
/// checksum or JSON error, overlapping areas) are logged at DEBUG level only. So the load is
/// repeated once, read-only, with debug logging on, and the lines that name a fault are kept.
/// A load involves no key, so no debug line can carry key material.
/// </summary>
internal static class HeaderLoadDiagnosis
{
    private const int MaxReasonLines = 6;
    private const string NoReason = "libcryptsetup gave no reason";

    // Words in libcryptsetup's debug lines (never translated) that name a fault; the other
    // lines narrate progress ("Trying to read secondary LUKS2 header at offset ...").
    private static readonly string[] FaultWords =
        ["error", "invalid", "illegal", "overlap", "fail", "mismatch", "wrong", "unsupported", "not ", "missing", "corrupt", "beyond", "exceed", "too ", "cannot"];

    /// <param name="errorLines">The ERROR lines the failed load logged (see <see cref="CryptsetupLog.TakeErrors"/>).</param>
    internal static string Explain(string path, string? errorLines)
    {
        var debugLines = CryptsetupLog.CaptureDebugLines(() => LoadOnce(path));
        var reasons = new List<string>();
        if (!string.IsNullOrEmpty(errorLines))
        {
            reasons.Add(errorLines.TrimEnd('.'));
        }

        foreach (var line in debugLines.Where(NamesAFault).Select(l => l.TrimEnd('.')))
        {
            if (reasons.Count < MaxReasonLines && !reasons.Any(r => r.Contains(line, StringComparison.Ordinal)))
            {
                reasons.Add(line);
            }
        }

        return reasons.Count == 0 ? NoReason : string.Join("; ", reasons);
    }

    private static bool NamesAFault(string line) => FaultWords.Any(word => line.Contains(word, StringComparison.OrdinalIgnoreCase));

    /// <summary>crypt_init + crypt_load on a fresh context; crypt_load never repairs or writes.</summary>
    private static void LoadOnce(string path)
    {
        CryptsetupLog.BeginCall();
        if (Interop.Cryptsetup.Init(out var handle, path) >= 0)
        {
            Interop.Cryptsetup.Load(handle, null, 0);
        }

        handle.Dispose();
    }
}
