from .aura_hook import AURAHook, find_ghm_cwap_losses

__all__ = ['AURAHook', 'find_ghm_cwap_losses']
