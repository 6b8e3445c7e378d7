namespace LuksVirt.Cli;

/// <summary>One slot in use in <c>keys list --json</c>. <paramref name="State"/> is libcryptsetup's
/// crypt_keyslot_status: "active", "active-last" (the only active slot) or "unbound" (a LUKS2 key
/// that opens no data). Holder, key and created only for recorded holders; tokens only when other
/// tools bound LUKS2 tokens to the slot (their types, e.g. "systemd-tpm2").</summary>
internal sealed record KeySlotReport(int Slot, string State, string? Holder, string? Key, DateTimeOffset? Created, string[]? Tokens)
{
    /// <summary>Only for a quorum slot: its threshold and holders (Holder is then the first of them).</summary>
    public QuorumReport? Quorum { get; init; }
}

/// <summary>A quorum slot in reports: any <paramref name="Threshold"/> of <paramref name="Holders"/>
/// recover its key; <paramref name="Split"/> names this split (shares of another never combine).</summary>
internal sealed record QuorumReport(int Threshold, int Count, string[] Holders, string Split, string Description)
{
    public static QuorumReport? From(LuksVirt.Core.Holders.QuorumRecord? quorum) => quorum is null
        ? null
        : new QuorumReport(quorum.Threshold, quorum.Count, [.. quorum.Holders], quorum.SplitId, quorum.Describe());
}

internal sealed record KeysListReport(string Container, string Uuid, string Version, string Holders, KeySlotReport[] Slots, int[] FreeSlots)
{
    /// <summary>The clevis bindings (tang, sss...), in clevis's formats.</summary>
    public ClevisBindingReport[] Bindings { get; init; } = [];

    /// <summary>Only for a LUKS1 container without room for LUKSMeta: why it cannot be bound.</summary>
    public string? ClevisRoom { get; init; }
}

/// <summary>A clevis binding in <c>keys list --json</c>: its slot, where it is kept ("clevis token 1",
/// "LUKSMeta slot 2") and its pin, or the problem that keeps it from being read.</summary>
internal sealed record ClevisBindingReport(int? Slot, string Location, PinReport? Pin, string? Problem);

/// <summary>A clevis pin: a tang pin's server, an sss pin's threshold and child pins.</summary>
internal sealed record PinReport(string Pin, string? Url, int? Threshold, PinReport[]? Pins)
{
    public static PinReport From(LuksVirt.Core.KeyManagement.ClevisPinInfo pin) =>
        new(pin.Pin, pin.Url, pin.Threshold, pin.Pins.Count == 0 ? null : [.. pin.Pins.Select(From)]);
}

/// <summary><c>keys bind|unbind|rebind --json</c>. Rebind also names the Tang exchange keys (kid)
/// of the old and the new binding.</summary>
internal sealed record KeysBindingReport(string Action, string Container, int Slot, string? Holder, string Location, PinReport Pin)
{
    public string[]? OldKeyIds { get; init; }

    public string[]? NewKeyIds { get; init; }
}

/// <summary><c>keys add|remove|replace --json</c>.</summary>
internal sealed record KeysChangeReport(string Action, string Container, string? Holder, int? AddedSlot, int? RemovedSlot, string? KeyFile)
{
    /// <summary>Only for <c>keys add --quorum</c>: one share file per holder, in holder order.</summary>
    public string[]? ShareFiles { get; init; }

    public QuorumReport? Quorum { get; init; }
}

/// <param name="KeyCheckedSlot">Slot the key opened in the backup; null when the key check was skipped.</param>
internal sealed record HeaderBackupReport(string Container, string File, string Uuid, string Version, long Bytes, bool KeyChecked, int? KeyCheckedSlot);

internal sealed record HeaderRestoreReport(string Container, string File, string Uuid, string Version, bool KeyChecked, int? KeyCheckedSlot);

/// <summary>What a refused or failed keys/header command prints with <c>--json</c>.</summary>
/// <param name="Rollback">"verified" or "failed" when a change was undone.</param>
internal sealed record CommandErrorReport(string Error, int ExitCode, string? Rollback, string? RescueFile);
