using System.Globalization;
using System.Runtime.InteropServices;

namespace LuksVirt.Interop.Cryptsetup;

/// <summary>
/// libcryptsetup 2.6 has no function that reports its version, so the version is the real file
/// name behind the soname (libcryptsetup.so.12 -> libcryptsetup.so.12.9.0 for 2.6.1): the
/// mapping in /proc/self/maps that contains crypt_init is the very library this process calls.
/// </summary>
internal static class CryptsetupLibraryFile
{
    private static readonly Lazy<string> s_fileName = new(Find);

    internal static string FileName => s_fileName.Value;

    private static string Find()
    {
        var library = NativeLibrary.Load(Interop.Libraries.Cryptsetup, typeof(CryptsetupLibraryFile).Assembly, null);
        try
        {
            var address = (ulong)NativeLibrary.GetExport(library, "crypt_init");
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                // "start-end perms offset dev inode path"; the path may itself contain spaces.
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 6)
                {
                    continue;
                }

                var range = fields[0].Split('-');
                if (range.Length == 2
                    && ulong.TryParse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start)
                    && ulong.TryParse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end)
                    && address >= start && address < end)
                {
                    return Path.GetFileName(fields[5].Trim());
                }
            }
        }
        finally
        {
            NativeLibrary.Free(library);
        }

        // Only reachable without procfs: the soname is then all that is known.
        return Interop.Libraries.Cryptsetup;
    }
}
