namespace LuksVirt.Core.Usb;

/// <summary>
/// CRC-32 as GPT uses it (IEEE 802.3, reflected polynomial 0xEDB88320, initial value and final
/// XOR 0xFFFFFFFF; "123456789" gives 0xCBF43926). System.IO.Hashing has it, but as a package
/// outside the shared framework; a 1 KiB table is all it takes.
/// </summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    /// <summary>Starts a running CRC; feed it with <see cref="Append"/>, end with <see cref="Finish"/>.</summary>
    public const uint Start = 0xFFFFFFFF;

    public static uint Append(uint running, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            running = Table[(running ^ b) & 0xFF] ^ (running >> 8);
        }

        return running;
    }

    public static uint Finish(uint running) => running ^ 0xFFFFFFFF;

    public static uint Compute(ReadOnlySpan<byte> bytes) => Finish(Append(Start, bytes));

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < table.Length; n++)
        {
            var c = n;
            for (var bit = 0; bit < 8; bit++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
