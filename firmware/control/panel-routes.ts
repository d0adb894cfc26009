import type { FastifyInstance } from 'fastify';
import { PeerhubError } from '../core/errors.js';
import type { PanelAction } from '../panel/machine.js';
import type { PanelView } from '../panel/panel.js';

/** The panel as the control API sees it (the agent's Panel, or nothing when there is none). */
export interface PanelControl {
  view(): PanelView;
  press(button: 'accept' | 'decline', long: boolean): Promise<PanelAction & { error?: string }>;
  /** Presses from the API: always on the virtual board; on hardware only when the config allows it. */
  remotePressAllowed(): boolean;
}

const PressBody = {
  type: 'object',
  additionalProperties: false,
  required: ['button'],
  properties: { button: { type: 'string', enum: ['accept', 'decline'] }, long: { type: 'boolean' } },
} as const;

/** `GET /v1/panel` (LED patterns now, buttons), `POST /v1/panel/press` (a button, as if pressed). */
export function panelRoutes(app: FastifyInstance, panel: PanelControl): void {
  app.get('/v1/panel', async () => panel.view());
  app.post<{ Body: { button: 'accept' | 'decline'; long?: boolean } }>(
    '/v1/panel/press',
    { schema: { body: PressBody } },
    async (req) => {
      if (!panel.remotePressAllowed()) {
        throw new PeerhubError(
          'PH_ERR_FORBIDDEN',
          'this hub has a real panel: press its buttons (or set panel.remote_press = true in the config)',
          { statusCode: 403 },
        );
      }
      return panel.press(req.body.button, req.body.long ?? false);
    },
  );
}
