// Questions about the logs, over POST /chat: `{query}` in, `{response}` out.

import { postJson } from './api.js';
import { el } from './dom.js';

export class ChatPanel {
  constructor(form, transcript) {
    this.form = form;
    this.transcript = transcript;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.ask();
    });
  }

  async ask() {
    const input = this.form.elements.query;
    const query = input.value.trim();
    if (!query) return;
    input.value = '';
    this.say('question', query);
    const pending = this.say('answer pending', 'Thinking…');
    const button = this.form.querySelector('button');
    button.disabled = true;
    try {
      const answer = await postJson('/chat', { query });
      pending.className = 'answer';
      pending.textContent = answer?.response ?? '(empty answer)';
    } catch (e) {
      pending.className = 'answer error';
      pending.textContent = e.describe ? e.describe('Chat') : String(e);
    } finally {
      button.disabled = false;
      input.focus();
    }
  }

  say(kind, text) {
    const node = el('p', { class: kind }, text);
    this.transcript.append(node);
    this.transcript.scrollTop = this.transcript.scrollHeight;
    return node;
  }
}
