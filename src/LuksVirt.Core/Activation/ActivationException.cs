namespace LuksVirt.Core.Activation;

/// <summary>A disk could not be handed to its guest; the message names the fix.</summary>
internal sealed class ActivationException(string message, Exception? inner = null) : Exception(message, inner);
