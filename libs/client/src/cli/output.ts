/** What the CLI prints: readable lines by default, one JSON object per line with --json. */
import type { Message } from '../inbox';

export class Output {
  constructor(private readonly json: boolean) {}

  /** A result or event: `text` for people, `value` as a JSON line for scripts. */
  emit(value: Record<string, unknown>, text: string): void {
    process.stdout.write(`${this.json ? JSON.stringify(value) : text}\n`);
  }

  message(message: Message): void {
    const time = new Date(message.ts).toLocaleTimeString();
    this.emit({ type: 'message', ...message }, `[${time}] ${message.from} → ${message.to}: ${message.body}`);
  }

  /** Progress and status: stderr, so stdout stays the data (and stays JSON with --json). */
  status(text: string): void {
    process.stderr.write(`${text}\n`);
  }
}
