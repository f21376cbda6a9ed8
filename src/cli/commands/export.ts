export { exportCommand } from './download.js';
