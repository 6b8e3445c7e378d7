namespace LuksVirt.Interop.Cryptsetup;

/// <summary>The errno values (Linux, asm-generic) that libcryptsetup returns negated and that
/// LuksVirt tells apart. Named once here so no magic number appears elsewhere.</summary>
internal static class CryptsetupErrno
{
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EIO = 5;
    internal const int ENOTBLK = 15;
    internal const int EBUSY = 16;
    internal const int EEXIST = 17;
    internal const int ENODEV = 19;
    internal const int EINVAL = 22;
    internal const int ENOTSUP = 95;

    /// <summary>The symbolic name for messages ("EPERM"), or null for one not listed here.</summary>
    internal static string? NameOf(int errno) => errno switch
    {
        EPERM => nameof(EPERM),
        ENOENT => nameof(ENOENT),
        EIO => nameof(EIO),
        ENOTBLK => nameof(ENOTBLK),
        EBUSY => nameof(EBUSY),
        EEXIST => nameof(EEXIST),
        ENODEV => nameof(ENODEV),
        EINVAL => nameof(EINVAL),
        ENOTSUP => nameof(ENOTSUP),
        _ => null,
    };
}
