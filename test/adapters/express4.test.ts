import express4 from 'express4'
import { startExpress } from './express-app.js'
import { describeAdapter } from './suite.js'

describeAdapter('express 4', startExpress(express4))
