using LuksVirt.Interop.OpenSsl;
using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.Tang;

/// <summary>
/// The McCallum-Relyea exchange Tang is built on, as clevis performs it. The server holds s with
/// public S = sG. Binding (<see cref="Provision"/>): pick c, publish C = cG in the JWE (its
/// <c>epk</c>), and K = cS is the ECDH-ES shared point; c is forgotten. Recovery
/// (<see cref="Recovery"/>): pick a fresh e, send X = C + eG; the server answers Y = sX =
/// sC + s(eG); then K = Y - eS. The server never sees K or C alone, and an eavesdropper learns
/// nothing from X and Y. Only K's x-coordinate (Z) leaves OpenSSL, into a SecretBuffer.
/// </summary>
internal static class McCallumRelyea
{
    public const string Algorithm = "ECMR";
    public const string DeriveKey = "deriveKey";

    /// <summary>Binding side: returns Z (in a SecretBuffer) and the ephemeral public key C.</summary>
    public static SecretBuffer Provision(EcPublicJwk serverKey, out EcPublicJwk ephemeralKey)
    {
        ArgumentNullException.ThrowIfNull(serverKey);
        using var curve = EcCurve.Open(serverKey.Curve);
        using var server = serverKey.ToPoint(curve);
        using var c = curve.GenerateScalar();
        using var ephemeral = curve.MultiplyGenerator(c);
        using var shared = curve.Multiply(server, c);
        ephemeralKey = EcPublicJwk.FromPoint(curve, ephemeral, [], alg: null);
        return ExportX(curve, shared);
    }

    /// <summary>
    /// One recovery: holds the fresh scalar e between the request and the reply, in OpenSSL's
    /// memory, zeroed on dispose. Use each instance for one request only.
    /// </summary>
    internal sealed class Recovery : IDisposable
    {
        private readonly EcCurve _curve;
        private readonly EcPoint _serverKey;
        private readonly EcScalar _e;

        /// <param name="ephemeralKey">The JWE's <c>epk</c> (C).</param>
        /// <param name="serverKey">The server's exchange key (S), from the JWE's advertisement.</param>
        public Recovery(EcPublicJwk ephemeralKey, EcPublicJwk serverKey)
        {
            ArgumentNullException.ThrowIfNull(ephemeralKey);
            ArgumentNullException.ThrowIfNull(serverKey);
            if (ephemeralKey.Curve != serverKey.Curve)
            {
                throw new ClevisJweException($"the JWE's ephemeral key is on {EcCurve.Describe(ephemeralKey.Curve)} but the server's key on {EcCurve.Describe(serverKey.Curve)}");
            }

            _curve = EcCurve.Open(serverKey.Curve);
            EcPoint? server = null;
            EcScalar? e = null;
            try
            {
                server = serverKey.ToPoint(_curve);
                e = _curve.GenerateScalar();
                using var c = ephemeralKey.ToPoint(_curve);
                using var blind = _curve.MultiplyGenerator(e);
                using var request = _curve.Add(c, blind);
                Request = EcPublicJwk.FromPoint(_curve, request, [DeriveKey], Algorithm);
            }
            catch
            {
                e?.Dispose();
                server?.Dispose();
                _curve.Dispose();
                throw;
            }

            _serverKey = server;
            _e = e;
        }

        /// <summary>X = C + eG, what is sent to the server (public: blinded by e).</summary>
        public EcPublicJwk Request { get; }

        /// <summary>From the server's reply Y = sX, Z = x(Y - eS) into a SecretBuffer.</summary>
        public SecretBuffer Complete(EcPublicJwk reply)
        {
            ArgumentNullException.ThrowIfNull(reply);
            using var y = reply.ToPoint(_curve);
            using var unblind = _curve.Multiply(_serverKey, _e);
            using var shared = _curve.Subtract(y, unblind);
            return ExportX(_curve, shared);
        }

        public void Dispose()
        {
            _e.Dispose();
            _serverKey.Dispose();
            _curve.Dispose();
        }
    }

    private static SecretBuffer ExportX(EcCurve curve, EcPoint shared)
    {
        var x = SecretBuffer.Allocate(curve.CoordinateLength);
        try
        {
            // y is as secret as x while K is; it only passes through and is zeroed with its buffer.
            using var y = SecretBuffer.Allocate(curve.CoordinateLength);
            curve.ExportCoordinates(shared, x.WritableSpan, y.WritableSpan);
            return x;
        }
        catch
        {
            x.Dispose();
            throw;
        }
    }
}
