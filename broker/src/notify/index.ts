export { loadNotifyConfig, type NotifyConfig, NotifySchema } from './config.js';
export { digestMessage, incidentMessage } from './messages.js';
export { flakyLinks, Notifier, type NotifierOptions, type NotifyStats } from './notifier.js';
export { signature } from './senders.js';
