/**
 * Entry point of the chat page (bundled by web/build.ts into web/dist/app.js): sign-in with a
 * development token, then one ChatSession until sign-out.
 */
import { ChatSession, userIdProblem } from './chat';
import { DevTokenError, devTokenSource, fetchToken } from './dev-token';
import { ChatView } from './view';

function start(): void {
  const view = new ChatView();
  let session: ChatSession | undefined;
  let signingIn = false;

  const signOut = async (reason = ''): Promise<void> => {
    const current = session;
    session = undefined;
    view.hideBanner();
    view.showSignIn(reason);
    await current?.close();
  };

  view.signInForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const user = view.userInput.value.trim();
    const problem = userIdProblem(user);
    if (problem !== undefined) {
      view.showSignIn(
        user === '' ? `Enter your user id: ${problem}.` : `"${user}" is not valid: ${problem}.`,
      );
      return;
    }
    if (signingIn || session !== undefined) return;
    signingIn = true;
    fetchToken(user)
      .then((first) => {
        view.showChat(user);
        session = new ChatSession(user, devTokenSource(user, first), view, (reason) => void signOut(reason));
        session.setPeer(view.peerInput.value);
      })
      .catch((error: unknown) =>
        view.showSignIn(error instanceof DevTokenError ? error.message : `sign-in failed: ${String(error)}`),
      )
      .finally(() => {
        signingIn = false;
      });
  });

  view.signOutButton.addEventListener('click', () => void signOut());
  view.peerInput.addEventListener('input', () => session?.setPeer(view.peerInput.value));

  view.composeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = view.bodyInput.value;
    if (body.trim() === '' || session === undefined) return;
    // Refused before sending (too long, no valid peer): the text stays in the box to fix.
    if (session.send(body)) view.bodyInput.value = '';
    view.bodyInput.focus();
  });
  // Enter sends, Shift+Enter starts a new line.
  view.bodyInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      view.composeForm.requestSubmit();
    }
  });

  view.showSignIn();
}

start();
