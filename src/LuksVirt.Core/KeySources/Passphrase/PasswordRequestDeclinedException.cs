namespace LuksVirt.Core.KeySources.Passphrase;

/// <summary>The person at the password agent declined (the agent answered "-"): nothing more is asked.</summary>
internal sealed class PasswordRequestDeclinedException()
    : IOException("the passphrase request was declined at the password agent; nothing more is asked");
