using System.Runtime.InteropServices;

namespace LuksVirt.Interop.Cryptsetup;

/// <summary>What a failing libcryptsetup call was doing; decides what its errno means.</summary>
internal enum CryptCall
{
    /// <summary>Nothing special: the errno is reported as it is.</summary>
    General,

    /// <summary>Tries a key on the key slots: -EPERM means it opened none, -ENOENT that no slot
    /// (or not the requested one) is active for it to open.</summary>
    KeyCheck,

    /// <summary>crypt_load: -EINVAL means there is no LUKS header (see <see cref="CryptsetupErrors.HeaderLoad"/>
    /// for a header that is there but damaged).</summary>
    HeaderLoad,

    /// <summary>Talks to device-mapper; on a kernel without dm-crypt every failure is that.</summary>
    DeviceMapper,

    /// <summary>Tries a key and then creates a mapping: <see cref="KeyCheck"/> and <see cref="DeviceMapper"/>.</summary>
    Activation,

    /// <summary>crypt_benchmark: -ENOTSUP means the kernel crypto user-space API (AF_ALG) is missing.</summary>
    CipherBenchmark,
}

/// <summary>
/// The one place where a negative libcryptsetup result becomes an exception. Call it right after
/// the failing call, on the same thread, so the library's ERROR lines (see
/// <see cref="CryptsetupLog"/>) still belongs to that call. Messages name the device or mapping
/// and the function, never key material.
/// </summary>
internal static class CryptsetupErrors
{
    /// <param name="function">The libcryptsetup function, e.g. "crypt_load".</param>
    /// <param name="result">Its negative return value (-errno).</param>
    /// <param name="subject">What it worked on: device path, "path, key slot 3", mapping name.</param>
    /// <param name="call">What the call was doing, see <see cref="CryptCall"/>.</param>
    internal static CryptsetupException Create(string function, int result, string subject, CryptCall call = CryptCall.General)
    {
        var errno = -result;
        var logged = CryptsetupLog.TakeErrors();
        var libraryLine = logged is null ? string.Empty : $" libcryptsetup: {logged}";
        var code = $"{function}: {CryptsetupErrno.NameOf(errno) ?? "errno " + errno}";
        var usesKey = call is CryptCall.KeyCheck or CryptCall.Activation;
        var usesDeviceMapper = call is CryptCall.DeviceMapper or CryptCall.Activation;

        if (usesKey && errno == CryptsetupErrno.EPERM)
        {
            return new WrongKeyException(function, errno, $"{subject}: no key slot opens with this key ({code})");
        }

        if (usesKey && errno == CryptsetupErrno.ENOENT)
        {
            return new WrongKeyException(function, errno, $"{subject}: no active key slot the key could open ({code}).{libraryLine}");
        }

        if (call == CryptCall.HeaderLoad && errno == CryptsetupErrno.EINVAL)
        {
            return new NotLuksException(function, errno, $"{subject} is not a LUKS device (no valid LUKS1/LUKS2 header) ({code}).{libraryLine}");
        }

        if (usesDeviceMapper && !KernelDeviceMapper.IsCryptAvailable)
        {
            return new DeviceMapperUnavailableException(function, errno,
                $"{subject}: device-mapper not available (this kernel has no dm-crypt): {KernelDeviceMapper.Remedy} ({code}).{libraryLine}");
        }

        if (call == CryptCall.CipherBenchmark && errno == CryptsetupErrno.ENOTSUP)
        {
            return new KernelCryptoApiUnavailableException(function, errno,
                $"{subject}: kernel crypto API not available (no AF_ALG user-space interface; load algif_skcipher, kernel needs CONFIG_CRYPTO_USER_API_SKCIPHER) ({code}).{libraryLine}");
        }

        return new CryptsetupException(function, errno,
            $"{subject}: {function} failed: {Marshal.GetPInvokeErrorMessage(errno)} ({code}).{libraryLine}");
    }

    /// <summary>
    /// A failed crypt_load of <paramref name="path"/>: libcryptsetup says -EINVAL both when there
    /// is no LUKS header and when the header is there but damaged, so the signature decides.
    /// Damaged: <see cref="DamagedHeaderException"/> with libcryptsetup's reason and the fix.
    /// No signature: <see cref="NotLuksException"/>. Anything else: as <see cref="Create"/>.
    /// </summary>
    internal static CryptsetupException HeaderLoad(string path, int result)
    {
        const string function = "crypt_load";
        var errno = -result;
        if (errno is CryptsetupErrno.EINVAL or CryptsetupErrno.EIO && TryReadSignature(path) is { HasMagic: true } signature)
        {
            // Taken before the diagnosis: it makes libcryptsetup calls of its own.
            var errors = CryptsetupLog.TakeErrors();
            var reason = HeaderLoadDiagnosis.Explain(path, errors);
            return new DamagedHeaderException(function, errno,
                $"{path}: the LUKS header is damaged: it carries the LUKS signature, but libcryptsetup cannot load it: {reason} ({function}: {CryptsetupErrno.NameOf(errno)}). "
                + $"Restore the header from a backup of this container: luksvirt header restore --container {path} --file BACKUP (without a backup, cryptsetup repair may help; try it on a copy first)",
                reason,
                signature.Uuid);
        }

        return Create(function, result, path, CryptCall.HeaderLoad);
    }

    private static LuksHeaderSignature.Found? TryReadSignature(string path)
    {
        try
        {
            return LuksHeaderSignature.Read(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // libcryptsetup could read it a moment ago; if we cannot now, its own error stands.
            return null;
        }
    }
}
