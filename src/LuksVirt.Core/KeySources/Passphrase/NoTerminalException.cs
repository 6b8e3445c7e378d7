namespace LuksVirt.Core.KeySources.Passphrase;

/// <summary><c>--ask</c> without a terminal to ask on (a service, a pipe): nothing was asked.</summary>
internal sealed class NoTerminalException(string message, Exception? innerException) : KeySourceRefusedException(message, innerException);
