// Entry point of the browser bundle (dist/dashboard/app-<hash>.js).
import { App } from './app.js';

void new App(document.getElementById('app') ?? document.body).start();
