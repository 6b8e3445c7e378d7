namespace LuksVirt.Core.Quorum;

/// <summary>
/// Arithmetic in GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1. Addition is XOR.
/// Multiplication runs the same eight steps for every input, with masks instead of branches and
/// no lookup tables, so its timing and memory accesses say nothing about secret operands.
/// </summary>
internal static class Gf256
{
    private const int Polynomial = 0x11B;

    public static byte Multiply(byte a, byte b)
    {
        var product = 0;
        var shifted = (int)a;
        var multiplier = (int)b;
        for (var bit = 0; bit < 8; bit++)
        {
            // -(multiplier & 1) is all ones when the bit is set, zero otherwise.
            product ^= shifted & -(multiplier & 1);
            multiplier >>= 1;
            shifted = (shifted << 1) ^ (Polynomial & -((shifted >> 7) & 1));
        }

        return (byte)product;
    }

    /// <summary>a^254 = a^-1 for a != 0 (and 0 for 0), by a fixed chain of multiplications.</summary>
    public static byte Inverse(byte a)
    {
        var result = (byte)1;
        var power = a;
        for (var bit = 0; bit < 8; bit++)
        {
            // 254 = 0b11111110: every bit but the lowest.
            var square = Multiply(power, power);
            result = bit == 0 ? result : Multiply(result, power);
            power = square;
        }

        return result;
    }

    public static byte Divide(byte a, byte b) => Multiply(a, Inverse(b));
}
