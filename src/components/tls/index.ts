// The TLS piece: no steps of its own. It declares the bring-your-own-CA variables; services install their copies
// of the CA and host certificates with tlsFiles() (./files.ts).
import type { ComponentEntry } from '../entry.js';
import { tlsVars } from './settings.js';

export const tlsEntry: ComponentEntry = { settings: tlsVars, prefixes: ['tls_'] };
